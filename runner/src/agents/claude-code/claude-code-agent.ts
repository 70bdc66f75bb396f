import { CliAgent, type CliAgentOptions, type CliSpec } from '../cli/cli-agent';

/**
 * `claude -p PROMPT --output-format stream-json --include-partial-messages --verbose`, with
 * `--resume <session id>` from the previous turn's checkpoint and `--model` when the build names
 * one. `--permission-mode` is the turn's mode; the CLI takes Kiln's four names as they are. In `-p`
 * mode nobody approves a prompt, so whatever would ask is refused: `default` and `plan` only read,
 * `acceptEdits` also edits files in the workspace (and runs mkdir, touch, mv, cp), and
 * `bypassPermissions` runs anything — for a runner whose workspace is itself the boundary (a
 * container). Unset it is `acceptEdits`: the safest mode in which the agent can still build.
 */
const CLAUDE_CODE_CLI: CliSpec = {
  name: 'claude-code',
  command: 'claude',
  install: 'npm install -g @anthropic-ai/claude-code, then set ANTHROPIC_API_KEY',
  format: 'claude-code',
  scopeIds: false,
  // The resume id as `--resume=<id>` and the prompt after `--`: neither can be read as a flag.
  args: (prompt, model, resumeId, permissionMode) => [
    '-p',
    '--output-format',
    'stream-json',
    '--include-partial-messages',
    '--verbose',
    '--permission-mode',
    permissionMode ?? 'acceptEdits',
    ...(model ? ['--model', model] : []),
    ...(resumeId ? [`--resume=${resumeId}`] : []),
    '--',
    prompt,
  ],
  resumeIdOf: (line) =>
    isObject(line) && line.type === 'system' && typeof line.session_id === 'string'
      ? line.session_id
      : undefined,
};

/** The `claude-code` agent: Claude Code's CLI, mapped live. */
export function claudeCodeAgent(options?: CliAgentOptions): CliAgent {
  return new CliAgent(CLAUDE_CODE_CLI, options);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
