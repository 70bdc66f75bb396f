import type { RecordingFormat } from './mapper';
import type { RecordedLine } from './recording';

const CODEX_TYPES = new Set([
  'thread.started',
  'turn.started',
  'turn.completed',
  'turn.failed',
  'item.started',
  'item.updated',
  'item.completed',
]);

/** `type`s of Claude Code stream-json lines and of its session transcripts. */
const CLAUDE_TYPES = new Set([
  'system',
  'assistant',
  'user',
  'result',
  'stream_event',
  'summary',
  'file-history-snapshot',
]);

/** `type`s of Codex session rollout lines (`~/.codex/sessions/…/rollout-*.jsonl`). */
const CODEX_ROLLOUT_TYPES = new Set(['session_meta', 'turn_context', 'response_item', 'event_msg']);

/** How many lines detection looks at before giving up. */
const DETECT_LINES = 50;

/**
 * Names the format of a recording from its first lines (the first line whose `type` belongs to one
 * format, or that is an OpenHands action or observation, decides), or `null` when none of the first 50 lines looks like a known format.
 */
export function detectFormat(lines: readonly RecordedLine[]): RecordingFormat | null {
  for (const line of lines.slice(0, DETECT_LINES)) {
    const value = line.value;
    if (typeof value !== 'object' || value === null) continue;
    // OpenHands events have no `type`: an action or an observation, with its source.
    if ('source' in value && ('action' in value || 'observation' in value)) return 'openhands';
    if (!('type' in value)) continue;
    const type = value.type;
    if (typeof type !== 'string') continue;
    if (CODEX_TYPES.has(type)) return 'codex';
    if (CODEX_ROLLOUT_TYPES.has(type)) return 'codex-rollout';
    if (CLAUDE_TYPES.has(type)) return 'claude-code';
  }
  return null;
}
