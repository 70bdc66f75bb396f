import type { FinishedTurnStatus, RunnerEventBody } from '@kiln/protocol';
import { fitEvent } from '../ingest/fit-event';

/** How a mapped run's own turn ended, from its `turn-finished` (or undefined if it never did). */
export interface MappedOutcome {
  status: FinishedTurnStatus;
  error?: string;
}

/**
 * Feeds a recorded-run mapper's events into a live turn (DESIGN §6): the daemon owns the turn's
 * edges, so the mapper's `turn-started`/`turn-finished` are dropped (the last `turn-finished` is
 * kept as the outcome); with `scope`, message and tool call ids are prefixed so that two turns
 * mapping runs with the same ids (a replayed file, Codex's per-process `<thread>:1:item_0`) do not
 * collide in one session. Events are cut to the protocol's limits before they are emitted.
 */
export class LiveMapping {
  outcome: MappedOutcome | undefined;

  constructor(
    private readonly emit: (event: RunnerEventBody) => void,
    private readonly scope?: string,
  ) {}

  push(events: readonly RunnerEventBody[]): void {
    for (const event of events) {
      if (event.type === 'turn-started') continue;
      if (event.type === 'turn-finished') {
        this.outcome = {
          status: event.status,
          ...(event.error !== undefined ? { error: event.error } : {}),
        };
        continue;
      }
      this.emit(fitEvent(this.scope ? scopeIds(event, this.scope) : event));
    }
  }

  /**
   * Throws unless the mapped run reported success: `failed` with its error, or a run that ended
   * without its result (the mapper closed it `interrupted`). The daemon then ends the turn
   * `failed` with that message.
   */
  throwUnlessCompleted(what: string): void {
    const outcome = this.outcome;
    if (outcome?.status === 'completed') return;
    if (outcome?.status === 'failed') {
      throw new Error(`${what} failed: ${outcome.error ?? 'no reason given'}`);
    }
    throw new Error(`${what} ended without reporting a result`);
  }
}

/** The event with `scope:` before its message and tool call ids. */
function scopeIds(event: RunnerEventBody, scope: string): RunnerEventBody {
  const id = (value: string) => `${scope}:${value}`;
  switch (event.type) {
    case 'message-start':
    case 'text-delta':
    case 'reasoning-delta':
    case 'message-finish':
      return { ...event, messageId: id(event.messageId) };
    case 'usage':
      return event.messageId === undefined ? event : { ...event, messageId: id(event.messageId) };
    case 'tool-input-available':
      return {
        ...event,
        toolCallId: id(event.toolCallId),
        ...(event.parentToolCallId !== undefined
          ? { parentToolCallId: id(event.parentToolCallId) }
          : {}),
      };
    case 'tool-output-available':
      return { ...event, toolCallId: id(event.toolCallId) };
    default:
      return event;
  }
}
