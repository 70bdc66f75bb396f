/**
 * `pnpm bench:memory` : workerd's resident memory (the bench stack, RSS of the
 * workerd processes) across the kinds of load the security audit ran — fuzzed sockets on the same
 * sessions, frames over MAX_FRAME_BYTES, new sessions — printed after each phase and after 30 s
 * idle, so growth can be told apart by cause. Not a test: it prints figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startBenchStack } from './stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-memory-'));
const stack = await startBenchStack(dir);
const { server, token, projectId } = stack.config;
const mib = () => `${Math.round(stack.workerdRss() / 2 ** 20)} MiB`;
const printable = (n: number) =>
  Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(Math.random() * 95))).join(
    '',
  );

/** The i-th fuzz frame: junk text, frames with bad fields, binary. */
function fuzzFrame(i: number): string | Buffer {
  switch (i % 6) {
    case 0:
      return printable(1 + Math.floor(Math.random() * 200));
    case 1:
      return JSON.stringify({ type: 'hello', lastSeq: Math.floor(Math.random() * 1e9) - 5 });
    case 2:
      return JSON.stringify({ type: 'send', clientMessageId: printable(8), text: printable(50) });
    case 3:
      return Buffer.from(printable(100));
    case 4:
      return JSON.stringify({ type: 'ack', seq: printable(3) });
    default:
      return JSON.stringify({ type: 'events', firstProducerSeq: -1, events: [{ type: 'x' }] });
  }
}

async function newSession(): Promise<string> {
  const sessionId = crypto.randomUUID();
  const res = await fetch(`${server}/api/projects/${projectId}/sessions/${sessionId}/builds`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ agent: 'replay', model: 'memory' }),
  });
  if (!res.ok) throw new Error(`lease: ${res.status} ${await res.text()}`);
  return sessionId;
}

/** Opens `path`, sends `frames` frames (or 2 MiB ones), closes; the server may close first. */
async function fuzzSocket(path: string, frames: number, big = false): Promise<void> {
  const ws = new WebSocket(server.replace(/^http/, 'ws') + path, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const closed = new Promise((resolve) => ws.once('close', resolve));
  for (let i = 0; i < frames && ws.readyState === WebSocket.OPEN; i++) {
    ws.send(big ? 'x'.repeat(2 * 1024 * 1024) : fuzzFrame(i));
  }
  ws.close();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
}

try {
  console.log(`start: ${mib()}`);
  const sessions = await Promise.all(Array.from({ length: 10 }, newSession));
  console.log(`10 sessions: ${mib()}`);
  for (let r = 1; r <= 3; r++) {
    for (let c = 0; c < 150; c++) {
      const sid = sessions[c % sessions.length];
      const path = [
        `/api/sessions/${sid}/ingest`,
        `/api/sessions/${sid}/ws`,
        `/api/projects/${projectId}/ws`,
      ][c % 3];
      await fuzzSocket(path!, 40);
    }
    console.log(`fuzz ${r} (150 sockets × 40 random frames, the same sessions): ${mib()}`);
  }
  for (let r = 1; r <= 3; r++) {
    for (const sid of sessions) await fuzzSocket(`/api/sessions/${sid}/ws`, 5, true);
    console.log(`big ${r} (50 frames of 2 MiB): ${mib()}`);
  }
  // 20 more: with the 10 above, at most MAX_SESSIONS_PER_MINUTE in any minute.
  const more = await Promise.all(Array.from({ length: 20 }, newSession));
  for (const sid of more) await fuzzSocket(`/api/sessions/${sid}/ws`, 2);
  console.log(`20 new sessions, each opened once: ${mib()}`);
  await new Promise((resolve) => setTimeout(resolve, 30_000));
  console.log(`30 s idle: ${mib()}`);
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
