import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { SessionState } from '@kiln/protocol';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { freePort, queryLocalD1, ROOT, type Stack, startStack } from '../scripts/dev-stack.ts';
import { startTsx } from '../scripts/processes.ts';

const run = promisify(execFile);

/** The `kiln` CLI's entry point. */
export const CLI = join(ROOT, 'runner', 'src', 'cli.ts');

/** The recorded runs shipped beside the repository (`../shared/fixtures/recorded`). */
export const FIXTURES = resolve(ROOT, '..', 'shared', 'fixtures', 'recorded');

/** A dev stack in a throwaway directory on a free port; with `runner`, a local demo runner too. */
export async function startTestStack(
  options: { runner?: boolean; runnerEnv?: Record<string, string> } = {},
): Promise<Stack & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-'));
  const stack = await startStack({
    persistTo: join(dir, 'state'),
    port: await freePort(),
    configPath: join(dir, 'dev.json'),
    ...(options.runner ? { runnerWorkspaces: join(dir, 'workspaces') } : {}),
    ...(options.runnerEnv ? { runnerEnv: options.runnerEnv } : {}),
  });
  return {
    ...stack,
    dir,
    stop: async () => {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the `kiln` CLI (as `pnpm kiln` does) against the stack; resolves with its stdout. */
export async function kiln(stack: Stack, args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI,
      ...args,
      '--server',
      stack.config.server,
      '--token',
      stack.config.token,
    ],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
  );
  return stdout;
}

/** A `kiln replay … --pause-after N` the test holds: `paused` resolves once N events are acked. */
export interface HeldReplay {
  /** Resolves with the number of events acknowledged when the replay stopped to wait. */
  paused: Promise<number>;
  /** Lets the replay stream the rest (one line on its stdin). */
  resume: () => void;
  /** Resolves with stdout once the replay exits 0; rejects with its stderr otherwise. */
  done: Promise<string>;
}

/**
 * Starts `kiln replay FILE --pause-after N …args` against the stack and holds it after N events,
 * so "mid-stream" does not depend on how fast the machine is.
 */
export function heldReplay(
  stack: Stack,
  file: string,
  pauseAfter: number,
  args: string[],
): HeldReplay {
  const child = startTsx(
    CLI,
    [
      'replay',
      file,
      '--pause-after',
      String(pauseAfter),
      ...args,
      '--server',
      stack.config.server,
      '--token',
      stack.config.token,
    ],
    { cwd: ROOT, stdin: true },
  );
  const done = child.exited.then((code) => {
    if (code === 0) return child.stdout();
    throw new Error(`kiln replay exited ${code}: ${child.stderr()}`);
  });
  // A replay that fails before pausing fails the wait for the pause too.
  const paused = child
    .waitForOutput(/paused after (\d+) events/, 120_000)
    .then((line) => Number(/\d+/.exec(line)![0]));
  done.catch(() => {}); // observed by the test through `done`
  return { paused, resume: () => child.endInput('\n'), done };
}

/** Debian's Chromium, headless, with the flags this closed network needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Signs a new person up through the web app's sign-in page (email and password); returns their
 * email, unique per call. Ends on the projects page.
 */
export async function signUpInBrowser(page: Page, server: string, name: string): Promise<string> {
  const email = `${name.toLowerCase()}-${randomUUID().slice(0, 8)}@example.test`;
  await page.goto(`${server}/sign-in`);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${server}/`);
  return email;
}

/** GET an API path as the dev user. */
export async function apiGet<T>(stack: Stack, path: string): Promise<T> {
  const res = await fetch(`${stack.config.server}${path}`, {
    headers: { Authorization: `Bearer ${stack.config.token}` },
  });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Rows from the stack's local D1 (read with wrangler while the worker runs). */
export function d1Query<T>(stack: Stack & { dir: string }, sql: string): Promise<T[]> {
  return queryLocalD1<T>(join(stack.dir, 'state'), sql);
}

/** The seq up to which the session page has rendered (its `data-head-seq`). */
export async function headSeqOf(page: Page): Promise<number> {
  return Number(await page.locator('[data-head-seq]').getAttribute('data-head-seq'));
}

/** Waits until the session page has rendered the session up to `seq` (a failure bound, not a pace). */
export async function waitForHead(page: Page, seq: number, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    (target) =>
      Number(document.querySelector('[data-head-seq]')?.getAttribute('data-head-seq')) >= target,
    seq,
    { timeout },
  );
}

/**
 * Reads the session state (`read`, e.g. `GET /api/sessions/:id/state` as someone) until
 * `done(state)`, and returns that state; fails after `timeout` ms. The poll is the wait, not a
 * sleep: nothing in the API announces a state.
 */
export async function untilState(
  read: () => Promise<SessionState>,
  done: (state: SessionState) => boolean,
  timeout = 90_000,
): Promise<SessionState> {
  let last: SessionState | undefined;
  await expect
    .poll(
      async () => {
        last = await read();
        return done(last);
      },
      { timeout, interval: 100 },
    )
    .toBe(true);
  return last!;
}

/** The session's state as the dev user. */
export function sessionState(stack: Stack, sessionId: string): Promise<SessionState> {
  return apiGet<SessionState>(stack, `/api/sessions/${sessionId}/state`);
}
