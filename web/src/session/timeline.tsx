import type { SessionState } from '@kiln/protocol';
import { useMemo } from 'react';
import { formatTime } from '../lib/format';
import { useLiveSnapshot, useSessionState } from './use-session';

const selectLiveHead = (s: { state: SessionState }) => s.state.headSeq;
const selectMessages = (s: SessionState) => s.messages;
const selectToolCalls = (s: SessionState) => s.toolCalls;
const selectTurns = (s: SessionState) => s.turns;
const selectDiagnostics = (s: SessionState) => s.diagnostics;

/** A key moment of the session, and the element of the conversation or plan that shows it. */
interface Moment {
  key: string;
  seq: number;
  at: number | null;
  kind: 'prompt' | 'turn' | 'error' | 'diagnostics';
  label: string;
  /** A CSS selector of the element to scroll to. */
  target: string;
}

/**
 * The timeline: the session's prompts, turns, failed tool calls and build errors in order; a click
 * scrolls to that moment. The scrubber views the session as it was at any seq (the reducer
 * replayed to it); "Back to live" returns.
 */
export function Timeline({
  viewSeq,
  onScrub,
  onLive,
  scrubbing,
}: {
  /** The seq shown, or null when live. */
  viewSeq: number | null;
  onScrub: (seq: number) => void;
  onLive: () => void;
  scrubbing: boolean;
}) {
  const liveHead = useLiveSnapshot(selectLiveHead);
  const messages = useSessionState(selectMessages);
  const toolCalls = useSessionState(selectToolCalls);
  const turns = useSessionState(selectTurns);
  const diagnostics = useSessionState(selectDiagnostics);
  const moments = useMemo(
    () => collectMoments(messages, toolCalls, turns, diagnostics),
    [messages, toolCalls, turns, diagnostics],
  );
  const shown = viewSeq ?? liveHead;

  return (
    <nav className="timeline" aria-label="Timeline" data-testid="timeline">
      <div className="scrubber">
        <label htmlFor="scrubber">
          {viewSeq === null ? 'Latest' : 'Viewing'} · seq {shown} of {liveHead}
        </label>
        <input
          id="scrubber"
          type="range"
          min={0}
          max={liveHead}
          value={shown}
          onChange={(e) => onScrub(Number(e.target.value))}
          data-testid="scrubber"
          aria-valuetext={`seq ${shown} of ${liveHead}`}
        />
        {viewSeq !== null ? (
          <button
            type="button"
            className="button button-small"
            onClick={onLive}
            data-testid="back-to-live"
          >
            {scrubbing ? 'Replaying…' : 'Back to live'}
          </button>
        ) : null}
      </div>
      {moments.length === 0 ? (
        <p className="muted empty">Nothing has happened yet.</p>
      ) : (
        <ol className="timeline-list">
          {moments.map((m) => (
            <li key={m.key} className={`moment moment-${m.kind}`} data-testid="moment">
              <button type="button" onClick={() => scrollToMoment(m.target)}>
                <span className="moment-dot" aria-hidden="true" />
                <span className="moment-label">{m.label}</span>
                {m.at !== null && (
                  <time className="muted" dateTime={new Date(m.at).toISOString()}>
                    {formatTime(m.at)}
                  </time>
                )}
              </button>
            </li>
          ))}
        </ol>
      )}
    </nav>
  );
}

function collectMoments(
  messages: SessionState['messages'],
  toolCalls: SessionState['toolCalls'],
  turns: SessionState['turns'],
  diagnostics: SessionState['diagnostics'],
): Moment[] {
  const moments: Moment[] = [];
  for (const m of messages) {
    if (m.role !== 'user') continue;
    moments.push({
      key: `p-${m.messageId}`,
      seq: m.seq,
      at: m.at,
      kind: 'prompt',
      label: `Prompt: ${m.text.split('\n')[0]?.slice(0, 60)}`,
      target: `[data-message-id="${m.messageId}"]`,
    });
  }
  turns.forEach((turn, i) => {
    const first = messages.find((m) => m.turnId === turn.turnId);
    const ended = turn.status === 'running' ? 'running' : turn.status;
    moments.push({
      key: `t-${turn.turnId}`,
      seq: first?.seq ?? Number.MAX_SAFE_INTEGER - 1,
      at: turn.startedAt,
      kind: 'turn',
      label: `Turn ${i + 1} ${ended}${turn.error ? `: ${turn.error}` : ''}`,
      target: first ? `[data-message-id="${first.messageId}"]` : '[data-testid="turn"]',
    });
  });
  for (const call of toolCalls) {
    if (!call.isError) continue;
    moments.push({
      key: `e-${call.toolCallId}`,
      seq: call.seq,
      at: call.startedAt,
      kind: 'error',
      label: `${call.toolName} failed`,
      target: `[data-tool-call-id="${call.toolCallId}"]`,
    });
  }
  if (diagnostics && diagnostics.errors.length > 0) {
    moments.push({
      key: 'diagnostics',
      seq: diagnostics.seq,
      at: null,
      kind: 'diagnostics',
      label: `${diagnostics.errors.length} build error${diagnostics.errors.length === 1 ? '' : 's'}`,
      target: '[data-testid="diagnostics"]',
    });
  }
  return moments.sort((a, b) => a.seq - b.seq);
}

function scrollToMoment(selector: string): void {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) return;
  element.scrollIntoView({ behavior: 'smooth', block: 'center' });
  element.classList.add('flash');
  setTimeout(() => element.classList.remove('flash'), 1200);
}
