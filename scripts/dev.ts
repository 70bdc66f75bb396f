/**
 * `pnpm dev`: builds the web app (and keeps rebuilding it), applies D1 migrations, makes sure the
 * dev account exists (`.kiln/dev.json`), and runs the worker with local Durable Objects and D1 at
 * http://localhost:8787 (PORT overrides).
 */
import { join } from 'node:path';
import { ROOT, startStack } from './dev-stack.ts';
import { startProcess } from './processes.ts';

const port = Number(process.env.PORT ?? 8787);
// vite is the web package's devDependency, so it is installed under web/.
const vite = join(ROOT, 'web', 'node_modules', 'vite', 'bin', 'vite.js');

const web = { cwd: join(ROOT, 'web'), inherit: true };
const built = await startProcess(process.execPath, [vite, 'build'], web).exited;
if (built !== 0) throw new Error(`web build failed (${built})`);
const watcher = startProcess(
  process.execPath,
  [vite, 'build', '--watch', '--logLevel', 'warn'],
  web,
);

const stack = await startStack({
  persistTo: join(ROOT, '.wrangler', 'state'),
  port,
  configPath: join(ROOT, '.kiln', 'dev.json'),
  verbose: true,
  runnerWorkspaces: join(ROOT, '.kiln', 'workspaces'),
});
const { server, token, projectId, email, password } = stack.config;
console.log(`
  Kiln is running at ${server}

  Sign in (one click):   ${server}/sign-in#token=${token}
  Or with a password:    ${email} / ${password}   (or sign up as someone new)
  Dev account:           .kiln/dev.json (project ${projectId})
  Local runner:          the demo agent, workspaces in .kiln/workspaces — type a prompt in a project
                         (replay: a prompt naming a recording, e.g. codex-exec-command.jsonl;
                          ai-sdk, claude-code, codex: with an API key / the CLI on PATH)

  Stream a recorded Claude Code run into a new session:
    pnpm kiln replay ../shared/fixtures/recorded/claude-code-stream-json.jsonl --speed 4
  Watch a session in the terminal:
    pnpm kiln watch <session-id>
`);

let stopping = false;
const shutdown = async () => {
  stopping = true;
  await Promise.all([watcher.stop(), stack.stop()]);
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
// The worker ending on its own (a crash) ends `pnpm dev` with its code.
void stack.worker.exited.then(async (code) => {
  if (stopping) return;
  await watcher.stop();
  process.exit(code ?? 1);
});
