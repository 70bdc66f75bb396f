/**
 * Starting Kiln locally: D1 migrations, the dev account, and `wrangler dev` with local Durable
 * Objects and D1. Used by `pnpm dev` (scripts/dev.ts) and by the e2e tests, so both run the same
 * stack. Runs on Node ≥ 22 (type stripping); spawns the workspace's own wrangler.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const run = promisify(execFile);

/** What `.kiln/dev.json` holds: where the local server is and how to act as the dev user. */
export interface DevConfig {
  server: string;
  token: string;
  projectId: string;
  email: string;
  userId: string;
}

export interface StackOptions {
  /** Directory for local D1 and Durable Object state (wrangler `--persist-to`). */
  persistTo: string;
  port: number;
  /** Where to keep the dev account; created if missing or no longer valid. */
  configPath: string;
  /** Inherit wrangler's output (for `pnpm dev`) instead of collecting it. */
  verbose?: boolean;
}

export interface Stack {
  config: DevConfig;
  worker: ChildProcess;
  /** Output wrangler printed so far (when not verbose). */
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

async function d1(persistTo: string, sql: string): Promise<unknown[]> {
  const { stdout } = await wrangler(
    ['d1', 'execute', 'DB', '--local', '--json', '--command', sql],
    persistTo,
  );
  const parsed = JSON.parse(stdout) as { results: unknown[] }[];
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
    const existing = JSON.parse(readFileSync(configPath, 'utf8')) as DevConfig;
    const hash = createHash('sha256').update(existing.token).digest('hex');
    const rows = await d1(
      persistTo,
      `SELECT id FROM api_tokens WHERE token_hash = ${quote(hash)} AND revoked_at IS NULL`,
    );
    if (rows.length > 0) {
      const config = { ...existing, server };
      writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
      return config;
    }
  }
  const userId = randomUUID();
  const projectId = randomUUID();
  const token = `kiln_pat_${randomBytes(32).toString('base64url')}`;
  const hash = createHash('sha256').update(token).digest('hex');
  const email = 'dev@kiln.local';
  const now = Date.now();
  await d1(
    persistTo,
    [
      `DELETE FROM users WHERE email = ${quote(email)}`,
      `INSERT INTO users (id, email, name, created_at) VALUES (${quote(userId)}, ${quote(email)}, 'Dev', ${now})`,
      `INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (${quote(randomUUID())}, ${quote(userId)}, 'dev', ${quote(hash)}, ${now})`,
      `INSERT INTO projects (id, name, owner_id, created_at, updated_at) VALUES (${quote(projectId)}, 'My first project', ${quote(userId)}, ${now}, ${now})`,
      `INSERT INTO project_members (project_id, user_id, role, created_at) VALUES (${quote(projectId)}, ${quote(userId)}, 'owner', ${now})`,
    ].join('; '),
  );
  const config: DevConfig = { server, token, projectId, email, userId };
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

/** Migrations, dev account, then `wrangler dev` until `/api/health` answers (60 s at most). */
export async function startStack(options: StackOptions): Promise<Stack> {
  const server = `http://localhost:${options.port}`;
  mkdirSync(options.persistTo, { recursive: true });
  await applyMigrations(options.persistTo);
  const config = await ensureDevAccount(options.persistTo, options.configPath, server);
  let output = '';
  const worker = spawn(
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
    ],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      stdio: options.verbose ? 'inherit' : 'pipe',
      detached: process.platform !== 'win32',
    },
  );
  worker.stdout?.on('data', (chunk) => (output += chunk));
  worker.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolveExit) => worker.once('exit', () => resolveExit()));
  const stop = async () => {
    if (worker.exitCode !== null) return;
    // wrangler starts workerd as a child: signal the whole process group.
    try {
      process.kill(-worker.pid!, 'SIGTERM');
    } catch {
      worker.kill('SIGTERM');
    }
    const killTimer = setTimeout(() => {
      try {
        process.kill(-worker.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, 5000);
    await exited;
    clearTimeout(killTimer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (worker.exitCode !== null)
      throw new Error(`wrangler dev exited with ${worker.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${server}/api/health`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not become healthy in 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { config, worker, logs: () => output, stop };
}
