import type { PermissionMode, SessionState } from '@kiln/protocol';
import { type FormEvent, useState } from 'react';
import {
  DEFAULT_PERMISSION_MODE,
  PermissionModeSelect,
} from '../components/permission-mode-select';
import { interruptSession, sendMessage } from '../lib/api';
import { submitOnEnter } from '../lib/submit-on-enter';
import type { SessionSnapshot } from './store';
import { useCanWrite, useLiveSnapshot, useSessionStore } from './use-session';

const selectRunning = (s: SessionSnapshot) =>
  s.state.turns[s.state.turns.length - 1]?.status === 'running' ||
  s.state.status === 'queued' ||
  s.state.status === 'active';
const selectProjectId = (s: SessionSnapshot) => s.state.projectId;
const selectSessionId = (s: SessionSnapshot) => s.state.sessionId;
const selectLastTurn = (s: SessionSnapshot) => s.state.turns[s.state.turns.length - 1];

/**
 * The follow-up composer under the conversation. A prompt shows at once as "sending", goes to the
 * messages route once (idempotent on its `clientMessageId`), and while a turn runs waits its turn
 * and shows as queued. Enter sends,
 * Shift+Enter is a new line (submitOnEnter). Viewers see why they cannot write.
 */
export function SessionComposer() {
  const store = useSessionStore();
  const canWrite = useCanWrite();
  const running = useLiveSnapshot(selectRunning);
  const projectId = useLiveSnapshot(selectProjectId);
  const sessionId = useLiveSnapshot(selectSessionId);
  const lastTurn = useLiveSnapshot(selectLastTurn);
  const [text, setText] = useState('');
  const [permissionMode, setPermissionMode] = useState<PermissionMode>(DEFAULT_PERMISSION_MODE);
  const [interrupting, setInterrupting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (!canWrite) {
    return (
      <p className="composer-readonly muted" data-testid="composer-readonly">
        You are watching this session as a viewer: only the project's owners and editors can send
        prompts or stop a turn.
      </p>
    );
  }

  function submit() {
    const prompt = text.trim();
    if (!prompt) return;
    const clientMessageId = crypto.randomUUID();
    // Shown as "sending" at once; the log's user-message replaces it.
    store.trackPending(clientMessageId, prompt);
    // An ended session is shown without a socket; a follow-up makes it live again.
    if (!store.connected) store.connect();
    setText('');
    setError(null);
    // The HTTP route appends the message and hands its turn to the runner hub (the socket's `send`
    // only reaches a running turn); it is idempotent on clientMessageId, so it is sent once.
    sendMessage(projectId, sessionId, {
      clientMessageId,
      text: prompt,
      agent: lastTurn?.agent || 'demo',
      model: lastTurn?.model ?? '',
      permissionMode,
    }).catch((caught: unknown) => {
      store.dropPending(clientMessageId);
      setText(prompt);
      setError(caught instanceof Error ? caught.message : 'Could not send');
    });
  }

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    submit();
  }

  async function onInterrupt() {
    setInterrupting(true);
    setError(null);
    try {
      await interruptSession(projectId, sessionId);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not stop the turn');
    } finally {
      setInterrupting(false);
    }
  }

  return (
    <form className="session-composer" onSubmit={onSubmit} data-testid="session-composer">
      <label className="visually-hidden" htmlFor="follow-up">
        Follow-up prompt
      </label>
      <textarea
        id="follow-up"
        data-testid="follow-up-text"
        rows={2}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={submitOnEnter}
        placeholder={
          running
            ? 'Queue a follow-up for when this turn ends…'
            : 'Ask for a change or a next step…'
        }
      />
      <div className="session-composer-actions">
        <label className="visually-hidden" htmlFor="follow-up-permission-mode">
          Permission mode
        </label>
        <PermissionModeSelect
          id="follow-up-permission-mode"
          value={permissionMode}
          onChange={setPermissionMode}
        />
        {running && (
          <button
            type="button"
            className="button button-danger"
            onClick={onInterrupt}
            disabled={interrupting}
            data-testid="interrupt"
          >
            {interrupting ? 'Stopping…' : 'Stop'}
          </button>
        )}
        <button
          type="submit"
          className="button button-primary"
          disabled={!text.trim()}
          data-testid="follow-up-send"
        >
          {running ? 'Queue' : 'Send'}
        </button>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** User messages that have no turn yet: each message becomes one turn, in order (PROTOCOL §8). */
export function queuedMessageIds(
  messages: SessionState['messages'],
  turnCount: number,
): ReadonlySet<string> {
  const users = messages.filter((m) => m.role === 'user');
  const queued = new Set<string>();
  for (let i = turnCount; i < users.length; i++) {
    const message = users[i];
    if (message) queued.add(message.messageId);
  }
  return queued;
}
