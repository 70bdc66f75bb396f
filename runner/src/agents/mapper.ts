import type { RunnerEventBody } from '@kiln/protocol';
import type { RecordedLine } from './recording';

/** The recorded formats Kiln can map to session events. */
export type RecordingFormat = 'claude-code' | 'codex' | 'codex-rollout' | 'openhands';

/** What a mapper needs to know that the recording does not say. */
export interface MapperOptions {
  /** The leased build the turns belong to. */
  buildId: string;
  /**
   * `turn-started.runnerId` of the turns it opens: the process that produced them — a runner
   * instance (`hostname-pid`) or a tool's name (`kiln-replay`).
   */
  producerId: string;
  /** `turn-started.agent`; defaults to the recording's agent (`claude-code`, `codex`, `openhands`). */
  agent?: string;
  /** `turn-started.model`; defaults to the model the recording names, else ''. */
  model?: string;
  /** Key of turn ids (`recordedTurnId`) when the recording names no session or thread id. */
  turnIdPrefix?: string;
}

/**
 * What a mapper learned about the recording as a whole while its lines were pushed: what a
 * session imported from it is titled by (`kiln import`).
 */
export interface RecordingFacts {
  /** The recording's own session (or thread) id, when it names one. */
  sourceSessionId?: string;
  /** The first prompt a person wrote, as the recording holds it. */
  firstPrompt?: string;
  /** The agent's own summary of the session (Claude Code `summary` lines). */
  summary?: string;
}

/**
 * Turns the lines of a recording into runner event bodies. Pure: no IO, no clock, no
 * randomness, so the same lines always give the same events.
 */
export interface AgentMapper {
  /** Maps one line; lines that carry nothing for the protocol give `[]`. */
  push(line: RecordedLine): RunnerEventBody[];
  /** Ends the recording: closes whatever is still open (a turn without its end is interrupted). */
  end(): RunnerEventBody[];
  /** What the lines pushed so far say about the recording as a whole. */
  readonly facts: RecordingFacts;
}

/** Maps a whole recording with one mapper. */
export function mapRecording(
  mapper: AgentMapper,
  lines: readonly RecordedLine[],
): RunnerEventBody[] {
  const events: RunnerEventBody[] = [];
  for (const line of lines) events.push(...mapper.push(line));
  events.push(...mapper.end());
  return events;
}
