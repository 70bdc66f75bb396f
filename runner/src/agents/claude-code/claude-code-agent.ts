import { CliAgent, type CliAgentOptions, type CliSpec } from '../cli/cli-agent';

/**
 * `claude -p PROMPT --output-format stream-json --include-partial-messages --verbose`, with
 * `--resume <session id>` from the previous turn's checkpoint and `--model` when the build names
 * one. `--permission-mode bypassPermissions`: a headless turn has nobody to approve tool use; the
 * runner's workspace (a container, for a self-hosted runner) is the boundary.
 */
export const CLAUDE_CODE_CLI: CliSpec = {
  name: 'claude-code',
  command: 'claude',
  install: 'npm install -g @anthropic-ai/claude-code, then set ANTHROPIC_API_KEY',
  format: 'claude-code',
  scopeIds: false,
  args: (prompt, model, resumeId) => [
    '-p',
    prompt,
    '--output-format',
    'stream-json',
    '--include-partial-messages',
    '--verbose',
    '--permission-mode',
    'bypassPermissions',
    ...(model ? ['--model', model] : []),
    ...(resumeId ? ['--resume', resumeId] : []),
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
