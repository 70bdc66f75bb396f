import { type ErrorCode, MAX_BAD_FRAMES, MAX_FRAME_BYTES, parseFrame } from '@kiln/protocol';
import type { z } from 'zod';

/**
 * Reading an incoming frame and refusing a bad one, the same on every socket (PROTOCOL.md §4):
 * a refused frame is answered with `error` and changes nothing; the `MAX_BAD_FRAMES + 1`th
 * refusal on one socket is fatal and closes it with 1008. Pure: the caller sends and stores.
 */

/** Why a frame was refused: the `error` frame's code and message. */
export interface Refusal {
  code: ErrorCode;
  message: string;
}

/**
 * Reads one raw message: JSON text of at most `MAX_FRAME_BYTES`, valid under `schema`. Returns
 * the frame, or why it is refused.
 */
export function readFrame<T>(
  schema: z.ZodType<T>,
  message: string | ArrayBuffer,
): { ok: true; frame: T } | ({ ok: false } & Refusal) {
  if (typeof message !== 'string') {
    return { ok: false, code: 'bad-frame', message: 'frames must be JSON text' };
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes; only count when it could matter.
  const bytes =
    message.length * 3 <= MAX_FRAME_BYTES
      ? message.length
      : new TextEncoder().encode(message).length;
  if (bytes > MAX_FRAME_BYTES) {
    return {
      ok: false,
      code: 'frame-too-large',
      message: `frames are limited to ${MAX_FRAME_BYTES} bytes`,
    };
  }
  const parsed = parseFrame(schema, message);
  return parsed.ok ? parsed : { ok: false, code: 'bad-frame', message: parsed.message };
}

/**
 * Counts one more refusal on a socket that had `badFrames`: the new count, and whether this one
 * is fatal (then the message says so and the socket is closed with 1008 `too many bad frames`).
 */
export function strike(
  badFrames: number,
  refusal: Refusal,
): { badFrames: number; fatal: boolean; message: string } {
  const count = badFrames + 1;
  return count > MAX_BAD_FRAMES
    ? { badFrames: count, fatal: true, message: `${refusal.message}; too many bad frames` }
    : { badFrames: count, fatal: false, message: refusal.message };
}
