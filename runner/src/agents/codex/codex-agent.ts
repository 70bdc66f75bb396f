import { CliAgent, type CliAgentOptions, type CliSpec } from '../cli/cli-agent';

/**
 * `codex exec --json --skip-git-repo-check --sandbox workspace-write [-m MODEL] PROMPT`, or
 * `codex exec … resume <thread id> PROMPT` to continue the previous turn's thread (Codex's
 * non-interactive docs). The workspace need not be a git repository; the sandbox lets Codex
 * write inside it and nowhere else.
 */
export const CODEX_CLI: CliSpec = {
  name: 'codex',
  command: 'codex',
  install: 'npm install -g @openai/codex, then set OPENAI_API_KEY',
  format: 'codex',
  // Codex numbers items per process (`item_0` …) and the mapper's turn ids restart at 1 for each
  // `codex exec`: without a scope a resumed thread's second turn would reuse the first's ids.
  scopeIds: true,
  args: (prompt, model, resumeId) => [
    'exec',
    '--json',
    '--skip-git-repo-check',
    '--sandbox',
    'workspace-write',
    ...(model ? ['-m', model] : []),
    ...(resumeId ? ['resume', resumeId] : []),
    prompt,
  ],
  resumeIdOf: (line) =>
    isObject(line) && line.type === 'thread.started' && typeof line.thread_id === 'string'
      ? line.thread_id
      : undefined,
};

/** The `codex` agent: OpenAI Codex's CLI, mapped live. */
export function codexAgent(options?: CliAgentOptions): CliAgent {
  return new CliAgent(CODEX_CLI, options);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
