import {
  isUrgent,
  type SessionStore,
  SubscriberChannel,
  sessionSnapshotFrame,
} from '@kiln/channel';
import type { SessionEvent, SessionState } from '@kiln/protocol';
import type { ShardRouter } from './shards';
import type { SubscriberAttachment } from './subscriber';

/** A SessionDO's subscriber sockets as one channel (catch-up, fan-out, refusal, presence). */
export type SessionSubscribers = SubscriberChannel<
  WebSocket,
  SessionEvent,
  SessionState,
  SubscriberAttachment
>;

/**
 * The SessionDO's runtime glue for its `SubscriberChannel`: sockets tagged `subscriber` with their
 * attachments, the DO SQLite log as the catch-up source (synchronous, so a catch-up runs whole
 * before any live batch), live batches and the presence view passed on to the viewer shards.
 */
export function sessionSubscribers(init: {
  ctx: DurableObjectState;
  log: SessionStore['log'];
  shards: ShardRouter;
  /** The session's state at head (throws when the session is not initialized). */
  state: () => SessionState;
}): SessionSubscribers {
  const { ctx, log, shards, state } = init;
  const channel: SessionSubscribers = new SubscriberChannel({
    attachments: {
      get: (ws): SubscriberAttachment => ws.deserializeAttachment(),
      set: (ws, attachment) => ws.serializeAttachment(attachment),
    },
    sockets: () => ctx.getWebSockets('subscriber'),
    source: {
      head: () => state().headSeq,
      read: (after, limit) => log.read(after, limit).map(redactForViewers),
      snapshot: () => ({ seq: state().headSeq, state: state() }),
    },
    snapshotFrame: sessionSnapshotFrame,
    urgent: isUrgent,
    redact: redactForViewers,
    resync: (ws) => {
      const head = state();
      channel.sendSnapshot(ws, head.headSeq, head);
      return head.headSeq;
    },
    forward: (events) => shards.deliver(events),
    presence: {
      kind: 'roster',
      // Who watches through shards survives a wake in the `shards` table.
      restore: (roster) => {
        for (const shard of shards.rows()) roster.replace(`shard:${shard.index}`, shard.viewers);
      },
      forward: (view) => shards.sendPresence(view),
    },
  });
  return channel;
}

/** Checkpoint state is for runners only (DESIGN §3). */
export function redactForViewers(event: SessionEvent): SessionEvent {
  return event.type === 'checkpoint' ? { ...event, state: null } : event;
}
