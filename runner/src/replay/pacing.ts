import type { RunnerEventBody } from '@kiln/protocol';

/** Replay speed: a multiple of the recording's own pace, or `max` for no delays at all. */
export type Speed = number | 'max';

/**
 * The pace used at 1× where a recording has no timestamps (Claude Code stream-json, Codex
 * exec --json), and the cap on gaps where it has them.
 */
export const NOMINAL_PACE = {
  /** Assistant text and reasoning appear at 200 characters a second, in chunks. */
  charsPerSecond: 200,
  /** Characters per streamed chunk (split at a space where one is near). */
  chunkChars: 24,
  /** Pause before a tool call appears, ms. */
  toolInputMs: 400,
  /** Pause before a tool's output appears (the tool "runs"), ms. */
  toolOutputMs: 600,
  /** Longest gap between two timestamped lines kept at 1× (a person away for 30 minutes is not replayed), ms. */
  maxGapMs: 5_000,
} as const;

/** Events to send after waiting `delayMs`. */
export interface PacedStep {
  delayMs: number;
  events: RunnerEventBody[];
}

/** Parses `--speed`: a positive number or `max`. Errors: RangeError with the accepted forms. */
export function parseSpeed(text: string): Speed {
  if (text === 'max') return 'max';
  const speed = Number(text);
  if (!Number.isFinite(speed) || speed <= 0) {
    throw new RangeError(`--speed must be a positive number or "max", got ${text}`);
  }
  return speed;
}

/**
 * Schedules the events of one recorded line. `gapMs` is the time since the previous timestamped
 * line (undefined when the recording has no timestamps). At `max` everything goes at once;
 * otherwise text is split into chunks so it streams, and the line's time — its gap (capped at
 * `maxGapMs`), else the nominal pace — is divided by the speed and spread over the text chunks
 * (or spent before the first event when the line has no text).
 */
export function paceLine(
  events: readonly RunnerEventBody[],
  gapMs: number | undefined,
  speed: Speed,
): PacedStep[] {
  if (events.length === 0) return [];
  if (speed === 'max') return [{ delayMs: 0, events: [...events] }];
  const steps = events.flatMap(splitText);
  if (gapMs !== undefined) {
    const budget = Math.min(Math.max(0, gapMs), NOMINAL_PACE.maxGapMs) / speed;
    const textChars = steps.reduce((sum, step) => sum + textLength(step), 0);
    return steps.map((event, i) => ({
      delayMs: textChars === 0 ? (i === 0 ? budget : 0) : (budget * textLength(event)) / textChars,
      events: [event],
    }));
  }
  return steps.map((event) => ({ delayMs: nominalDelay(event) / speed, events: [event] }));
}

function textLength(event: RunnerEventBody): number {
  return event.type === 'text-delta' || event.type === 'reasoning-delta' ? event.delta.length : 0;
}

function nominalDelay(event: RunnerEventBody): number {
  switch (event.type) {
    case 'text-delta':
    case 'reasoning-delta':
      return (event.delta.length * 1_000) / NOMINAL_PACE.charsPerSecond;
    case 'tool-input-available':
      return NOMINAL_PACE.toolInputMs;
    case 'tool-output-available':
      return NOMINAL_PACE.toolOutputMs;
    default:
      return 0;
  }
}

/** A text or reasoning delta as several smaller deltas of the same message. */
function splitText(event: RunnerEventBody): RunnerEventBody[] {
  if (event.type !== 'text-delta' && event.type !== 'reasoning-delta') return [event];
  const parts: RunnerEventBody[] = [];
  let rest = event.delta;
  while (rest.length > NOMINAL_PACE.chunkChars) {
    const space = rest.indexOf(' ', NOMINAL_PACE.chunkChars);
    const cut =
      space >= 0 && space < NOMINAL_PACE.chunkChars * 2 ? space + 1 : NOMINAL_PACE.chunkChars;
    parts.push({ ...event, delta: rest.slice(0, cut) });
    rest = rest.slice(cut);
  }
  if (rest) parts.push({ ...event, delta: rest });
  return parts;
}
