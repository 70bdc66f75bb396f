import type { PermissionMode } from '@kiln/protocol';
import { CliAgent, type CliAgentOptions, type CliSpec } from '../cli/cli-agent';

/**
 * `codex exec --json --skip-git-repo-check --sandbox MODE [-m MODEL] PROMPT`, or
 * `codex exec … resume <thread id> PROMPT` to continue the previous turn's thread (Codex's
 * non-interactive docs). The workspace need not be a git repository.
 */
const CODEX_CLI: CliSpec = {
  name: 'codex',
  command: 'codex',
  install: 'npm install -g @openai/codex, then set OPENAI_API_KEY',
  format: 'codex',
  // Codex numbers items per process (`item_0` …) and the mapper's turn ids restart at 1 for each
  // `codex exec`: without a scope a resumed thread's second turn would reuse the first's ids.
  scopeIds: true,
  args: (prompt, model, resumeId, permissionMode) => [
    'exec',
    '--json',
    '--skip-git-repo-check',
    '--sandbox',
    codexSandbox(permissionMode),
    ...(model ? ['-m', model] : []),
    // `--` before the positionals: a resume id or prompt starting with `-` is not a flag.
    ...(resumeId ? ['resume', '--', resumeId] : ['--']),
    prompt,
  ],
  resumeIdOf: (line) =>
    isObject(line) && line.type === 'thread.started' && typeof line.thread_id === 'string'
      ? line.thread_id
      : undefined,
};

/**
 * The sandbox for a permission mode. `codex exec` never asks for approval (its docs: it runs
 * `read-only` by default, `--full-auto` = `workspace-write` to allow edits, `danger-full-access` for
 * edits and networked commands), so the mode is all in the sandbox: `default` and `plan` read only,
 * `acceptEdits` (and unset) write inside the workspace and nowhere else, `bypassPermissions` anything.
 */
function codexSandbox(mode: PermissionMode | undefined): string {
  switch (mode) {
    case 'default':
    case 'plan':
      return 'read-only';
    case 'bypassPermissions':
      return 'danger-full-access';
    case 'acceptEdits':
    case undefined:
      return 'workspace-write';
  }
}

/** The `codex` agent: OpenAI Codex's CLI, mapped live. */
export function codexAgent(options?: CliAgentOptions): CliAgent {
  return new CliAgent(CODEX_CLI, options);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
