import {
  applyEvent,
  createSessionState,
  EVENTS_PAGE_MAX,
  type EventsPage,
  type SessionEvent,
  type SessionState,
} from '@kiln/protocol';

/** Fetches one page of the log: events after `after`, at most `limit`. */
export type FetchEvents = (after: number, limit: number) => Promise<EventsPage>;

/** Keep a reducer state every this many seqs, so scrubbing replays at most this many events. */
const SNAPSHOT_EVERY = 500;

/**
 * The session as it was at any seq: the shared reducer replayed over the log (`GET …/events`),
 * fetched page by page as far as asked and kept, with a state kept every 500 seqs so moving the
 * scrubber replays only the events since the nearest one.
 */
export class SessionHistory {
  private readonly events: SessionEvent[] = [];
  private readonly snapshots = new Map<number, SessionState>();
  private loading: Promise<void> | null = null;

  constructor(
    sessionId: string,
    projectId: string,
    private readonly fetchEvents: FetchEvents,
  ) {
    this.snapshots.set(0, createSessionState(sessionId, projectId));
  }

  /** The state after applying every event up to `seq` (fetching the log as far as needed). */
  async stateAt(seq: number): Promise<SessionState> {
    await this.loadTo(seq);
    const target = Math.min(seq, this.events.length);
    const base = Math.floor(target / SNAPSHOT_EVERY) * SNAPSHOT_EVERY;
    let from = base;
    while (!this.snapshots.has(from)) from -= SNAPSHOT_EVERY;
    let state = this.snapshots.get(from) as SessionState;
    for (let s = from + 1; s <= target; s++) {
      state = applyEvent(state, this.events[s - 1] as SessionEvent);
      if (s % SNAPSHOT_EVERY === 0) this.snapshots.set(s, state);
    }
    return state;
  }

  private async loadTo(seq: number): Promise<void> {
    while (this.events.length < seq) {
      if (!this.loading) {
        this.loading = this.fetchEvents(this.events.length, EVENTS_PAGE_MAX)
          .then((page) => {
            for (const event of page.events) {
              // Pages are seq-contiguous; anything else would corrupt the replay, so it is skipped.
              if (event.seq === this.events.length + 1) this.events.push(event);
            }
            if (page.events.length === 0) throw new Error(`the log ends before seq ${seq}`);
          })
          .finally(() => {
            this.loading = null;
          });
      }
      await this.loading;
    }
  }
}

/** The reducer replayed over `events` up to and including `seq` (what `stateAt` must equal). */
export function replayTo(
  sessionId: string,
  projectId: string,
  events: readonly SessionEvent[],
  seq: number,
): SessionState {
  let state = createSessionState(sessionId, projectId);
  for (const event of events) {
    if (event.seq > seq) break;
    state = applyEvent(state, event);
  }
  return state;
}
