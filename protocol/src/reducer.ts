import type { SessionEvent } from './events';
import { PROTOCOL_VERSION } from './limits';
import type { MessageState, SessionState, ToolCallState, TurnState, UsageTotals } from './state';

/**
 * The one place that says what an event does to a session's state. The SessionDO, the web app and
 * the terminal client all run it, so they cannot disagree.
 *
 * `applyEvent` never mutates its input: it returns a new state that shares every untouched array
 * and object with the old one, so React selectors re-render only what an event touched.
 */

export function emptyUsage(): UsageTotals {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costUsd: 0,
  };
}

/** The state of a session with no events. */
export function createSessionState(sessionId: string, projectId: string): SessionState {
  return {
    sessionId,
    projectId,
    status: 'idle',
    title: '',
    headSeq: 0,
    protocolVersion: PROTOCOL_VERSION,
    turns: [],
    messages: [],
    todos: [],
    toolCalls: [],
    usage: emptyUsage(),
    usageByModel: {},
    diagnostics: null,
    preview: null,
    updatedAt: 0,
  };
}

/**
 * Applies one committed event. Events must arrive in seq order; an event at or below `headSeq` is
 * ignored (so replays and duplicates are harmless), and a gap throws `SeqGapError`.
 */
export function applyEvent(state: SessionState, event: SessionEvent): SessionState {
  if (event.seq <= state.headSeq) return state;
  if (event.seq !== state.headSeq + 1) throw new SeqGapError(state.headSeq + 1, event.seq);
  const next: SessionState = { ...state, headSeq: event.seq, updatedAt: event.at };
  const currentTurnId = runningTurn(state)?.turnId;

  switch (event.type) {
    case 'user-message': {
      next.messages = [
        ...state.messages,
        {
          messageId: event.messageId,
          role: 'user',
          text: event.text,
          reasoning: '',
          status: 'done',
          seq: event.seq,
          at: event.at,
          authorId: event.authorId,
          clientMessageId: event.clientMessageId,
        },
      ];
      if (!state.title) next.title = titleFromPrompt(event.text);
      return next;
    }
    case 'turn-started': {
      const turn: TurnState = {
        turnId: event.turnId,
        status: 'running',
        agent: event.agent,
        model: event.model,
        buildId: event.buildId,
        runnerId: event.runnerId,
        startedAt: event.at,
        usage: emptyUsage(),
      };
      next.turns = [...state.turns, turn];
      next.status = 'active';
      next.statusReason = undefined;
      return next;
    }
    case 'message-start': {
      if (findIndexFromEnd(state.messages, (m) => m.messageId === event.messageId) >= 0)
        return next;
      next.messages = [
        ...state.messages,
        newAssistantMessage(event.messageId, currentTurnId, event),
      ];
      return next;
    }
    case 'text-delta':
    case 'reasoning-delta': {
      const field = event.type === 'text-delta' ? 'text' : 'reasoning';
      const index = findIndexFromEnd(state.messages, (m) => m.messageId === event.messageId);
      if (index < 0) {
        const message = newAssistantMessage(event.messageId, currentTurnId, event);
        message[field] = event.delta;
        next.messages = [...state.messages, message];
      } else {
        const message = state.messages[index]!;
        next.messages = replaceAt(state.messages, index, {
          ...message,
          [field]: message[field] + event.delta,
        });
      }
      return next;
    }
    case 'message-finish': {
      const index = findIndexFromEnd(state.messages, (m) => m.messageId === event.messageId);
      if (index >= 0) {
        next.messages = replaceAt(state.messages, index, {
          ...state.messages[index]!,
          status: 'done',
        });
      }
      return next;
    }
    case 'tool-input-available': {
      const parent =
        event.parentToolCallId === undefined
          ? undefined
          : state.toolCalls[
              findIndexFromEnd(state.toolCalls, (t) => t.toolCallId === event.parentToolCallId)
            ];
      const todoIndex = parent ? parent.todoIndex : inProgressTodoIndex(state);
      const call: ToolCallState = {
        toolCallId: event.toolCallId,
        toolName: event.toolName,
        input: event.input,
        isError: false,
        truncated: false,
        status: 'running',
        turnId: currentTurnId,
        seq: event.seq,
        startedAt: event.at,
        ...(todoIndex === undefined ? {} : { todoIndex }),
        ...(event.parentToolCallId === undefined
          ? {}
          : { parentToolCallId: event.parentToolCallId }),
      };
      const existing = findIndexFromEnd(state.toolCalls, (t) => t.toolCallId === event.toolCallId);
      next.toolCalls =
        existing >= 0
          ? replaceAt(state.toolCalls, existing, {
              ...state.toolCalls[existing]!,
              input: event.input,
            })
          : [...state.toolCalls, call];
      return next;
    }
    case 'tool-output-available': {
      const index = findIndexFromEnd(state.toolCalls, (t) => t.toolCallId === event.toolCallId);
      if (index < 0) return next; // output for a call we never saw: nothing to attach it to
      const call = state.toolCalls[index]!;
      next.toolCalls = replaceAt(state.toolCalls, index, {
        ...call,
        output: event.output,
        isError: event.isError,
        truncated: event.truncated,
        status: 'done',
        finishedAt: event.at,
        durationMs: event.durationMs > 0 ? event.durationMs : event.at - call.startedAt,
      });
      return next;
    }
    case 'todos-updated': {
      next.todos = event.todos;
      return next;
    }
    case 'usage': {
      const add = {
        inputTokens: event.inputTokens,
        outputTokens: event.outputTokens,
        cacheReadTokens: event.cacheReadTokens,
        cacheWriteTokens: event.cacheWriteTokens,
        reasoningTokens: event.reasoningTokens,
        costUsd: event.costUsd ?? 0,
      };
      next.usage = addUsage(state.usage, add);
      next.usageByModel = {
        ...state.usageByModel,
        [event.model]: addUsage(state.usageByModel[event.model] ?? emptyUsage(), add),
      };
      const turnIndex = findIndexFromEnd(state.turns, (t) => t.turnId === currentTurnId);
      if (turnIndex >= 0) {
        const turn = state.turns[turnIndex]!;
        next.turns = replaceAt(state.turns, turnIndex, {
          ...turn,
          usage: addUsage(turn.usage, add),
        });
      }
      return next;
    }
    case 'diagnostics': {
      next.diagnostics = { source: event.source, errors: event.errors, seq: event.seq };
      return next;
    }
    case 'preview-updated': {
      next.preview = {
        url: event.url,
        status: event.status,
        ...(event.version !== undefined ? { version: event.version } : {}),
      };
      return next;
    }
    case 'checkpoint':
      return next; // agent state for the runner; not part of what people see
    case 'turn-finished': {
      const turnIndex = findIndexFromEnd(state.turns, (t) => t.turnId === event.turnId);
      if (turnIndex >= 0) {
        const turn = state.turns[turnIndex]!;
        next.turns = replaceAt(state.turns, turnIndex, {
          ...turn,
          status: event.status,
          finishedAt: event.at,
          durationMs: event.durationMs,
          ...(event.error === undefined ? {} : { error: event.error }),
        });
      }
      // Calls still running when their turn ends will never get an output.
      if (state.toolCalls.some((t) => t.status === 'running' && t.turnId === event.turnId)) {
        next.toolCalls = state.toolCalls.map((t) =>
          t.status === 'running' && t.turnId === event.turnId ? { ...t, status: 'abandoned' } : t,
        );
      }
      if (state.messages.some((m) => m.status === 'streaming' && m.turnId === event.turnId)) {
        next.messages = state.messages.map((m) =>
          m.status === 'streaming' && m.turnId === event.turnId ? { ...m, status: 'done' } : m,
        );
      }
      next.status = event.status === 'completed' ? 'idle' : event.status;
      next.statusReason = event.error;
      return next;
    }
    case 'session-renamed': {
      next.title = event.title;
      return next;
    }
    case 'session-status': {
      next.status = event.status;
      next.statusReason = event.reason;
      return next;
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown event type ${(unknown as { type: string }).type}`);
    }
  }
}

/** Applies events in order; see `applyEvent`. */
export function applyEvents(state: SessionState, events: readonly SessionEvent[]): SessionState {
  let next = state;
  for (const event of events) next = applyEvent(next, event);
  return next;
}

/** Thrown when an event skips a seq: the caller must resync (send `hello` again). */
export class SeqGapError extends Error {
  override name = 'SeqGapError';
  constructor(
    readonly expected: number,
    readonly received: number,
  ) {
    super(`expected seq ${expected}, received ${received}`);
  }
}

/** The turn currently running, if any. */
export function runningTurn(state: SessionState): TurnState | undefined {
  const last = state.turns[state.turns.length - 1];
  return last?.status === 'running' ? last : undefined;
}

/** Index of the main agent's in-progress todo, if one is. */
export function inProgressTodoIndex(state: SessionState): number | undefined {
  const index = state.todos.findIndex((t) => t.status === 'in_progress');
  return index >= 0 ? index : undefined;
}

/** A session title from the first prompt: its first line, at most 80 characters. */
export function titleFromPrompt(text: string): string {
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

function newAssistantMessage(
  messageId: string,
  turnId: string | undefined,
  event: SessionEvent,
): MessageState {
  return {
    messageId,
    role: 'assistant',
    text: '',
    reasoning: '',
    status: 'streaming',
    seq: event.seq,
    at: event.at,
    ...(turnId === undefined ? {} : { turnId }),
  };
}

function addUsage(a: UsageTotals, b: UsageTotals): UsageTotals {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
    costUsd: a.costUsd + b.costUsd,
  };
}

function replaceAt<T>(items: readonly T[], index: number, item: T): T[] {
  const copy = items.slice();
  copy[index] = item;
  return copy;
}

/** Recent items are the ones events touch, so search from the end. */
function findIndexFromEnd<T>(items: readonly T[], match: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i]!)) return i;
  return -1;
}
