import type { SessionState, TraceSpan, TracesPage } from '@kiln/protocol';
import { useEffect, useMemo, useState } from 'react';
import { fetchTracesPage } from '../lib/api';
import { formatCost, formatDuration, formatTokens } from '../lib/format';
import { displayValue, summarizeInput } from './tool-summary';
import { buildTraceModel, type TraceBar } from './trace-model';
import { useSessionState } from './use-session';

const selectSessionId = (s: SessionState) => s.sessionId;
const selectTurns = (s: SessionState) => s.turns;
const selectUsageByModel = (s: SessionState) => s.usageByModel;
const selectStatus = (s: SessionState) => s.status;
const selectToolCallCount = (s: SessionState) => s.toolCalls.length;

type Load = { pages: TracesPage[]; loading: boolean; error: string | null };

/**
 * The trace: a waterfall of turns, agent steps and tool calls on one time axis, and tokens and
 * cost per turn and per model. Loaded page by page from `GET /api/sessions/:id/traces` (D1, not
 * the log); refetched when the session's status or tool call count changes, so a live session's
 * trace follows it.
 */
export function TraceView() {
  const sessionId = useSessionState(selectSessionId);
  const turns = useSessionState(selectTurns);
  const usageByModel = useSessionState(selectUsageByModel);
  const status = useSessionState(selectStatus);
  // D1 trails the log by a write-through (~200 ms): refetch a live trace at most every 1.5 s.
  const toolCallCount = useDebounced(useSessionState(selectToolCallCount), 1500);
  const [load, setLoad] = useState<Load>({ pages: [], loading: true, error: null });
  const [selected, setSelected] = useState<TraceSpan | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: status and toolCallCount refresh a live trace
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      const pages: TracesPage[] = [];
      let cursor: string | null = null;
      do {
        const page: TracesPage = await fetchTracesPage(sessionId, cursor, abort.signal);
        pages.push(page);
        cursor = page.nextCursor;
        // Show each page as it arrives: a long trace fills in rather than waiting for the last.
        setLoad({ pages: [...pages], loading: cursor !== null, error: null });
      } while (cursor && !abort.signal.aborted);
    })().catch((error: unknown) => {
      if (abort.signal.aborted) return;
      setLoad((l) => ({
        ...l,
        loading: false,
        error: error instanceof Error ? error.message : 'Failed',
      }));
    });
    return () => abort.abort();
  }, [sessionId, status, toolCallCount]);

  const model = useMemo(() => buildTraceModel(load.pages, Date.now()), [load.pages]);
  const models = Object.entries(usageByModel);

  return (
    <div className="trace" data-testid="trace-view">
      <section className="panel" aria-labelledby="waterfall-heading">
        <header className="panel-header">
          <h2 id="waterfall-heading">Waterfall</h2>
          <span className="muted">
            {load.loading
              ? 'Loading…'
              : `${formatDuration(model.total)} · ${model.lanes.length} turns`}
          </span>
        </header>
        {load.error && (
          <p className="form-error" role="alert">
            {load.error}
          </p>
        )}
        {!load.loading && model.lanes.length === 0 && !load.error && (
          <p className="muted empty">No turns yet. The trace fills in as the agent works.</p>
        )}
        <ol className="waterfall" aria-label="Turns, steps and tool calls over time">
          {model.lanes.map((lane) => (
            <li key={lane.turn.turnId} className="waterfall-lane" data-testid="trace-turn">
              <WaterfallRow
                label={`Turn ${lane.number}`}
                detail={`${lane.turn.toolCalls} calls${lane.turn.errors ? ` · ${lane.turn.errors} errors` : ''}`}
                offset={lane.offset}
                duration={lane.duration}
                total={model.total}
                kind="turn"
              />
              <ol>
                {lane.bars.map((bar) => (
                  <li key={bar.span.id}>
                    <WaterfallBar
                      bar={bar}
                      total={model.total}
                      selected={selected?.id === bar.span.id}
                      onSelect={() => setSelected(bar.span)}
                    />
                  </li>
                ))}
              </ol>
            </li>
          ))}
        </ol>
      </section>
      {selected && <SpanDetail span={selected} onClose={() => setSelected(null)} />}
      <div className="trace-tables">
        <section className="panel" aria-labelledby="per-turn-heading">
          <header className="panel-header">
            <h2 id="per-turn-heading">Per turn</h2>
          </header>
          {turns.length === 0 ? (
            <p className="muted empty">No turns yet.</p>
          ) : (
            <table className="table" data-testid="usage-per-turn">
              <thead>
                <tr>
                  <th scope="col">Turn</th>
                  <th scope="col">Model</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Input</th>
                  <th scope="col">Output</th>
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {turns.map((turn, i) => (
                  <tr key={turn.turnId}>
                    <td>
                      {i + 1} <span className={`badge badge-${turn.status}`}>{turn.status}</span>
                    </td>
                    <td>{turn.model || turn.agent}</td>
                    <td>{turn.durationMs === undefined ? '—' : formatDuration(turn.durationMs)}</td>
                    <td>{formatTokens(turn.usage.inputTokens)}</td>
                    <td>{formatTokens(turn.usage.outputTokens)}</td>
                    <td>{formatCost(turn.usage.costUsd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section className="panel" aria-labelledby="per-model-heading">
          <header className="panel-header">
            <h2 id="per-model-heading">Per model</h2>
          </header>
          {models.length === 0 ? (
            <p className="muted empty">No usage reported yet.</p>
          ) : (
            <table className="table" data-testid="usage-per-model">
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Input</th>
                  <th scope="col">Output</th>
                  <th scope="col">Cache read</th>
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {models.map(([name, u]) => (
                  <tr key={name}>
                    <td>{name || 'unknown'}</td>
                    <td>{formatTokens(u.inputTokens)}</td>
                    <td>{formatTokens(u.outputTokens)}</td>
                    <td>{formatTokens(u.cacheReadTokens)}</td>
                    <td>{formatCost(u.costUsd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </div>
  );
}

function WaterfallRow(props: {
  label: string;
  detail: string;
  offset: number;
  duration: number;
  total: number;
  kind: string;
}) {
  return (
    <div className={`waterfall-row waterfall-${props.kind}`}>
      <span className="waterfall-label">
        <strong>{props.label}</strong> <span className="muted">{props.detail}</span>
      </span>
      <Track {...props} />
    </div>
  );
}

function Track({
  offset,
  duration,
  total,
  kind,
}: {
  offset: number;
  duration: number;
  total: number;
  kind: string;
}) {
  return (
    <span className="waterfall-track" aria-hidden="true">
      <span
        className={`waterfall-bar bar-${kind}`}
        style={{
          left: `${(offset / total) * 100}%`,
          width: `max(3px, ${(duration / total) * 100}%)`,
        }}
      />
    </span>
  );
}

function WaterfallBar({
  bar,
  total,
  selected,
  onSelect,
}: {
  bar: TraceBar;
  total: number;
  selected: boolean;
  onSelect: () => void;
}) {
  const { span } = bar;
  const kind =
    span.kind === 'step'
      ? 'step'
      : span.isError
        ? 'error'
        : span.status === 'running'
          ? 'running'
          : 'call';
  const summary = span.kind === 'tool-call' ? summarizeInput(span.input) : '';
  return (
    <button
      type="button"
      className={`waterfall-row waterfall-button${selected ? ' selected' : ''}`}
      onClick={onSelect}
      aria-pressed={selected}
      data-testid="trace-bar"
      data-kind={span.kind}
      aria-label={`${bar.label} ${summary} ${formatDuration(bar.duration)}`.trim()}
    >
      <span className="waterfall-label" style={{ paddingLeft: `${bar.depth * 12}px` }}>
        <span className="waterfall-name">{bar.label}</span>{' '}
        <span className="muted waterfall-summary">{summary}</span>
      </span>
      <Track offset={bar.offset} duration={bar.duration} total={total} kind={kind} />
      <span className="waterfall-duration muted">{formatDuration(bar.duration)}</span>
    </button>
  );
}

function SpanDetail({ span, onClose }: { span: TraceSpan; onClose: () => void }) {
  return (
    <section className="panel span-detail" aria-labelledby="span-heading" data-testid="span-detail">
      <header className="panel-header">
        <h2 id="span-heading">{span.kind === 'step' ? 'Agent step' : span.toolName}</h2>
        <button type="button" className="button button-small button-ghost" onClick={onClose}>
          Close
        </button>
      </header>
      {span.kind === 'step' ? (
        <p className="muted">
          An assistant message of {span.textLength.toLocaleString()} characters, seq {span.seq}.
        </p>
      ) : (
        <div className="tool-call-detail">
          <p className="muted">
            {span.status}
            {span.durationMs !== null ? ` · ${formatDuration(span.durationMs)}` : ''} · seq{' '}
            {span.seq}
            {span.truncated && <span className="tag tag-warn">truncated</span>}
          </p>
          <h4>Input</h4>
          <pre className="code">{displayValue(span.input)}</pre>
          <h4>Output {span.isError && <span className="tag tag-error">error</span>}</h4>
          {span.output === undefined ? (
            <p className="muted">No output.</p>
          ) : (
            <pre className={span.isError ? 'code code-error' : 'code'}>
              {displayValue(span.output)}
            </pre>
          )}
        </div>
      )}
    </section>
  );
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}
