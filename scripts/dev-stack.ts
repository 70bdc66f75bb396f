/**
 * Starting Kiln locally: D1 migrations, the dev account, and `wrangler dev` with local Durable
 * Objects and D1. Used by `pnpm dev` (scripts/dev.ts) and by the e2e tests, so both run the same
 * stack. Runs on Node ≥ 22 (type stripping); spawns the workspace's own wrangler.
 */
import { execFile } from 'node:child_process';
import { createHash, pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ManagedProcess, startProcess, startTsx, waitForHealthy } from './processes.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const run = promisify(execFile);

/** What `.kiln/dev.json` holds: where the local server is and how to act as the dev user. */
export interface DevConfig {
  server: string;
  token: string;
  projectId: string;
  email: string;
  /** The dev user's password, for signing in through the sign-in page. */
  password: string;
  userId: string;
  /** Token of the local runner `pnpm dev` starts (`kiln runner --token`). */
  runnerToken: string;
}

export interface StackOptions {
  /** Directory for local D1 and Durable Object state (wrangler `--persist-to`). */
  persistTo: string;
  port: number;
  /** Where to keep the dev account; created if missing or no longer valid. */
  configPath: string;
  /** Inherit wrangler's output (for `pnpm dev`) instead of collecting it. */
  verbose?: boolean;
  /** Also start a local `kiln runner` with the demo agent, workspaces in this directory. */
  runnerWorkspaces?: string;
  /** Extra environment of that runner (e.g. the demo agent's `KILN_DEMO_HOLD_ON_PROMPT`). */
  runnerEnv?: Record<string, string>;
}

export interface Stack {
  config: DevConfig;
  worker: ManagedProcess;
  /** The local runner, when `runnerWorkspaces` was given. */
  runner?: ManagedProcess;
  /** Output wrangler (and the runner) printed so far (when not verbose). */
  logs: () => string;
  stop: () => Promise<void>;
}

function wrangler(args: string[], persistTo: string) {
  return run(process.execPath, [WRANGLER, ...args, '--persist-to', persistTo], {
    cwd: ROOT,
    env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Applies every migration in migrations/ to the local D1. */
export async function applyMigrations(persistTo: string): Promise<void> {
  await wrangler(['d1', 'migrations', 'apply', 'DB', '--local'], persistTo);
}

/** Rows of `sql` run against the local D1 in `persistTo` (works while `wrangler dev` runs). */
export async function queryLocalD1<T = unknown>(persistTo: string, sql: string): Promise<T[]> {
  const { stdout } = await wrangler(
    ['d1', 'execute', 'DB', '--local', '--json', '--command', sql],
    persistTo,
  );
  const parsed = JSON.parse(stdout) as { results: T[] }[];
  return parsed[0]?.results ?? [];
}

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * Returns the dev account from `configPath` when its token still works in this D1; otherwise
 * creates a user, a personal access token (stored as its SHA-256 hash) and a project, and writes
 * the config file.
 */
export async function ensureDevAccount(
  persistTo: string,
  configPath: string,
  server: string,
): Promise<DevConfig> {
  if (existsSync(configPath)) {
    const existing = JSON.parse(readFileSync(configPath, 'utf8')) as Partial<DevConfig>;
    const sha = (value = '') => quote(createHash('sha256').update(value).digest('hex'));
    const rows =
      existing.token && existing.runnerToken && existing.password
        ? await queryLocalD1(
            persistTo,
            `SELECT (SELECT COUNT(*) FROM api_tokens WHERE token_hash = ${sha(existing.token)} AND revoked_at IS NULL)
                  + (SELECT COUNT(*) FROM runner_tokens WHERE token_hash = ${sha(existing.runnerToken)} AND revoked_at IS NULL) AS n`,
          )
        : [];
    if ((rows[0] as { n?: number } | undefined)?.n === 2) {
      const config = { ...existing, server } as DevConfig;
      writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
      return config;
    }
  }
  const userId = randomUUID();
  const projectId = randomUUID();
  const token = `kiln_pat_${randomBytes(32).toString('base64url')}`;
  const hash = createHash('sha256').update(token).digest('hex');
  const runnerToken = `kiln_rt_${randomBytes(32).toString('base64url')}`;
  const runnerHash = createHash('sha256').update(runnerToken).digest('hex');
  const email = 'dev@kiln.local';
  const password = randomBytes(9).toString('base64url');
  // The worker's format (worker/src/auth/password.ts): PBKDF2-SHA-256, 100,000 iterations.
  const salt = randomBytes(16);
  const passwordHash = `pbkdf2-sha256$100000$${salt.toString('base64')}$${pbkdf2Sync(password, salt, 100_000, 32, 'sha256').toString('base64')}`;
  const now = Date.now();
  await queryLocalD1(
    persistTo,
    [
      `DELETE FROM users WHERE email = ${quote(email)}`,
      `INSERT INTO users (id, email, name, created_at) VALUES (${quote(userId)}, ${quote(email)}, 'Dev', ${now})`,
      `INSERT INTO auth_accounts (id, user_id, account_id, provider_id, password, created_at, updated_at) VALUES (${quote(randomUUID())}, ${quote(userId)}, ${quote(userId)}, 'credential', ${quote(passwordHash)}, ${now}, ${now})`,
      `INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (${quote(randomUUID())}, ${quote(userId)}, 'dev', ${quote(hash)}, ${now})`,
      // Shared: the local runner builds for every account on this stack, including new sign-ups.
      `INSERT INTO runner_tokens (id, user_id, name, token_hash, shared, created_at) VALUES (${quote(randomUUID())}, ${quote(userId)}, 'local runner', ${quote(runnerHash)}, 1, ${now})`,
      `INSERT INTO projects (id, name, owner_id, created_at, updated_at) VALUES (${quote(projectId)}, 'My first project', ${quote(userId)}, ${now}, ${now})`,
      `INSERT INTO project_members (project_id, user_id, role, created_at) VALUES (${quote(projectId)}, ${quote(userId)}, 'owner', ${now})`,
    ].join('; '),
  );
  const config: DevConfig = { server, token, projectId, email, password, userId, runnerToken };
  mkdirSync(dirname(configPath), { recursive: true });
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return config;
}

/** A free TCP port on localhost. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** Where the dev stack serves built apps (previews, deployments): `http://127.0.0.1:<port>`. */
export function appsOrigin(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/** Migrations, dev account, then `wrangler dev` until `/api/health` answers (60 s at most). */
export async function startStack(options: StackOptions): Promise<Stack> {
  const server = `http://localhost:${options.port}`;
  mkdirSync(options.persistTo, { recursive: true });
  await applyMigrations(options.persistTo);
  const config = await ensureDevAccount(options.persistTo, options.configPath, server);
  const worker = startProcess(
    process.execPath,
    [
      WRANGLER,
      'dev',
      '--port',
      String(options.port),
      '--ip',
      '127.0.0.1',
      '--persist-to',
      options.persistTo,
      '--show-interactive-dev-session=false',
      // Built apps are served on a different site from Kiln's (localhost): the same port under
      // 127.0.0.1, so an app's scripts never get Kiln's host-only cookies (worker/src/artifacts/).
      '--var',
      `APPS_ORIGIN:${appsOrigin(options.port)}`,
    ],
    {
      cwd: ROOT,
      env: { WRANGLER_SEND_METRICS: 'false' },
      inherit: options.verbose ?? false,
      // wrangler starts workerd as its child: stop them together.
      tree: true,
    },
  );
  try {
    await waitForHealthy(`${server}/api/health`, worker);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  const stopWorker = async () => {
    await worker.stop();
  };
  if (!options.runnerWorkspaces) {
    return { config, worker, logs: () => worker.output(), stop: stopWorker };
  }
  const runner = startTsx(
    join(ROOT, 'runner', 'src', 'cli.ts'),
    [
      'runner',
      '--server',
      server,
      '--token',
      config.runnerToken,
      '--workspaces',
      options.runnerWorkspaces,
      // The replay agent plays these when a prompt names one (e.g. codex-exec-command.jsonl).
      '--recordings',
      join(ROOT, '..', 'shared', 'fixtures', 'recorded'),
    ],
    { cwd: ROOT, inherit: options.verbose ?? false, env: options.runnerEnv ?? {} },
  );
  return {
    config,
    worker,
    runner,
    logs: () => `${worker.output()}${runner.output()}`,
    stop: async () => {
      // The runner first, so it can end its builds while the worker is still there.
      await runner.stop();
      await stopWorker();
    },
  };
}
