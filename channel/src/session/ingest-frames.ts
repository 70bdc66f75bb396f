import type { ErrorCode, ErrorFrame, IngestServerFrame, RunnerCommand } from '@kiln/protocol';

/**
 * Every frame the SessionDO sends a producer (runner, `kiln replay`) on its ingest socket, built
 * here and checked against the direction's zod-inferred union (`ingestServerFrame`,
 * protocol/src/frames.ts). Nothing else writes these frames by hand.
 */

/** Encodes one SessionDO → producer frame as the socket's JSON text. */
export const toProducer = (frame: IngestServerFrame): string => JSON.stringify(frame);

/** The answer to `hello`: everything up to `ackedProducerSeq` is durable; resume after it. */
export const readyFrame = (ackedProducerSeq: number) =>
  ({ type: 'ready', ackedProducerSeq }) satisfies IngestServerFrame;

/** Every event up to `producerSeq` is durable. */
export const ackFrame = (producerSeq: number) =>
  ({ type: 'ack', producerSeq }) satisfies IngestServerFrame;

/** Asks the running agent to stop or tells it about a new message. */
export const commandFrame = (command: RunnerCommand) =>
  ({ type: 'command', command }) satisfies IngestServerFrame;

export const pongFrame = () => ({ type: 'pong' }) satisfies IngestServerFrame;

/** An `error` frame (the same shape on every socket); `expectedProducerSeq` for a gap. */
export function errorFrame(
  code: ErrorCode,
  message: string,
  fatal: boolean,
  expectedProducerSeq?: number,
): ErrorFrame {
  return expectedProducerSeq === undefined
    ? { type: 'error', code, message, fatal }
    : { type: 'error', code, message, fatal, expectedProducerSeq };
}
