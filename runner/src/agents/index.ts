import { ClaudeCodeMapper } from './claude-code/mapper';
import { CodexMapper } from './codex/mapper';
import { CodexRolloutMapper } from './codex-rollout/mapper';
import type { AgentMapper, MapperOptions, RecordingFormat } from './mapper';
import { OpenHandsMapper } from './openhands/mapper';

export { detectFormat } from './detect-format';
export type { AgentMapper, MapperOptions, RecordingFormat } from './mapper';
export { parseRecording, type RecordedLine } from './recording';

/** A fresh mapper for a recording format. */
export function createMapper(format: RecordingFormat, options: MapperOptions): AgentMapper {
  switch (format) {
    case 'claude-code':
      return new ClaudeCodeMapper(options);
    case 'codex':
      return new CodexMapper(options);
    case 'codex-rollout':
      return new CodexRolloutMapper(options);
    case 'openhands':
      return new OpenHandsMapper(options);
  }
}
