import { readFileSync } from 'node:fs';
import type { RunnerEventBody, SessionState } from '@kiln/protocol';
import { stateFrom } from '@kiln/protocol/testing';
import type { RecordedLine } from './recording';
import { parseRecording } from './recording';

/**
 * Helpers for tests that read the recorded runs in `shared/fixtures/recorded/`, which sits beside
 * the checkout (`<checkout>/../shared`).
 */

/** The folder of recorded runs. */
export const RECORDED_DIR = new URL('../../../../shared/fixtures/recorded/', import.meta.url);

/** The parsed lines of one recorded fixture. */
export function readFixture(name: string): RecordedLine[] {
  return parseRecording(readFileSync(new URL(name, RECORDED_DIR), 'utf8')).lines;
}

/** The parsed lines of a sample kept in the repository, e.g. `new URL('./fixtures/x.jsonl', import.meta.url)`. */
export function readSample(url: URL): RecordedLine[] {
  return parseRecording(readFileSync(url, 'utf8')).lines;
}

/** Gives bodies the envelope the SessionDO would and reduces them. */
export function reduceBodies(bodies: readonly RunnerEventBody[]): SessionState {
  return stateFrom(bodies, 'session-1', 'project-1');
}

/** The events of one type, typed. */
export function ofType<T extends RunnerEventBody['type']>(
  events: readonly RunnerEventBody[],
  type: T,
): Extract<RunnerEventBody, { type: T }>[] {
  return events.filter((e): e is Extract<RunnerEventBody, { type: T }> => e.type === type);
}
