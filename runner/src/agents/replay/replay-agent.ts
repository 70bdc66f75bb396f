import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { paceLine, type Speed } from '../../replay/pacing';
import { resolveInWorkspace } from '../../tools/workspace-path';
import type { Agent, TurnContext } from '../agent';
import { detectFormat } from '../detect-format';
import { createMapper } from '../index';
import { LiveMapping } from '../live-mapping';
import { parseRecording } from '../recording';

/** Options of the replay agent. */
export interface ReplayAgentOptions {
  /** Directory the recordings are read from; a build can name only files inside it. */
  recordings: string;
  /** Pace: N× the recording, or `max`; default 1. */
  speed?: Speed;
}

/**
 * `replay` (DESIGN §6): plays a recorded Claude Code or Codex run as a live turn, so a recording
 * can be dispatched like any agent (and drive load for `bench/`). The build's model, when it ends
 * in `.jsonl`, else the first line of its prompt, names the file, relative to `recordings`
 * (paths that leave it are refused, as the workspace tools refuse them). Events go through the
 * same mappers and pacing as `kiln replay`; ids are scoped by the turn so a file replayed twice
 * into one session stays two sets of messages.
 */
export class ReplayAgent implements Agent {
  readonly name = 'replay';

  constructor(private readonly options: ReplayAgentOptions) {}

  async run(ctx: TurnContext): Promise<void> {
    const name = ctx.model.endsWith('.jsonl') ? ctx.model : (ctx.prompt.split('\n')[0] ?? '');
    if (!name.trim().endsWith('.jsonl')) {
      throw new Error(
        'replay: name a recording (a .jsonl file in the runner’s recordings directory) as the prompt or the model',
      );
    }
    const file = await resolveInWorkspace(this.options.recordings, name.trim());
    if (!file.exists) throw new Error(`replay: no recording ${file.relative}`);
    const { lines } = parseRecording(await readFile(file.absolute, 'utf8'));
    const format = detectFormat(lines);
    if (!format) throw new Error(`replay: ${file.relative} is not a Claude Code or Codex run`);
    const mapper = createMapper(format, {
      buildId: ctx.buildId,
      // LiveMapping drops the mapper's turn-started (the daemon opens the turn), so this is unused.
      producerId: this.name,
      agent: this.name,
      turnIdPrefix: ctx.turnId,
    });
    const mapping = new LiveMapping(ctx.emit, ctx.turnId);
    const speed = this.options.speed ?? 1;
    let previousAt: number | undefined;
    for (const line of lines) {
      const gapMs =
        line.at !== undefined && previousAt !== undefined ? line.at - previousAt : undefined;
      if (line.at !== undefined) previousAt = line.at;
      for (const step of paceLine(mapper.push(line), gapMs, speed)) {
        if (step.delayMs > 0) await sleep(step.delayMs, undefined, { signal: ctx.signal });
        ctx.signal.throwIfAborted();
        mapping.push(step.events);
      }
    }
    mapping.push(mapper.end());
    mapping.throwUnlessCompleted(`the recorded run ${file.relative}`);
  }
}
