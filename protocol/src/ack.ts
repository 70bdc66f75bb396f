import { ACK_EVERY_EVENTS } from './limits';

/**
 * When a subscriber sends `ack {seq}` (optional flow control, PROTOCOL.md §2): as soon as it has
 * applied `ACK_EVERY_EVENTS` events past its last ack, and otherwise within `delayMs` of applying
 * any. `send` writes the frame; call `reset(seq)` after each `hello` and `stop()` when done.
 */
export class AckScheduler {
  private acked = 0;
  private latest = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (seq: number) => void,
    private readonly delayMs = 1000,
  ) {}

  /** The subscriber has applied everything up to `seq`. */
  applied(seq: number): void {
    this.latest = Math.max(this.latest, seq);
    if (this.latest - this.acked >= ACK_EVERY_EVENTS) this.flush();
    else if (this.latest > this.acked && !this.timer) {
      this.timer = setTimeout(() => this.flush(), this.delayMs);
    }
  }

  /** A new connection starts from `seq` (its `hello.lastSeq`). */
  reset(seq: number): void {
    this.stop();
    this.acked = seq;
    this.latest = seq;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.stop();
    if (this.latest <= this.acked) return;
    this.acked = this.latest;
    this.send(this.acked);
  }
}
