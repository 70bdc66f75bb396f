/**
 * `pnpm bench [--quick]`: starts the bench workerd (Kiln, the raw relay and the Agents SDK peer)
 * and the Durable Streams server, drives the same workloads at each, prints one Markdown table and
 * writes bench/results/<time>.json. "n/a" where a system has no such capability.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMapper, detectFormat, parseRecording } from '../../runner/src/agents';
import { fitEvent } from '../../runner/src/ingest/fit-event';
import { IngestProducer } from '../../runner/src/ingest/producer';
import { ROOT } from '../../scripts/dev-stack.ts';
import { median, now, Probe, percentile } from './probe';
import { type BenchStack, startBenchStack } from './stack';
import { AgentsSdkSystem } from './systems/agents-sdk';
import { DurableStreamsSystem } from './systems/durable-streams';
import { apiJson, type KilnChannel, KilnSystem, leaseBuild, RelaySystem } from './systems/kiln';
import type { Channel, System } from './systems/types';
import { seedViewers } from './viewers';

const quick = process.argv.includes('--quick');
/** `--only=latency,resume` runs just those scenario groups (ingest, latency, resume, hydrate). */
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const runs = (group: string) => !only || only.includes(group);
/** `--subscribers=1000` overrides the audience sizes of the latency scenarios. */
const subscribersArg = process.argv.find((a) => a.startsWith('--subscribers='))?.slice(14);
const SCALE = {
  synthetic: quick ? 10_000 : 100_000,
  subscribers: subscribersArg
    ? subscribersArg.split(',').map(Number)
    : quick
      ? [1, 100]
      : [1, 100, 1000],
  slowEvents: quick ? 400 : 1000,
  fastEvents: quick ? 2000 : 5000,
  resume: quick ? [1000] : [1000, 10_000, 100_000],
  hydrate: quick ? [10_000] : [10_000, 100_000],
  fixtureRepeats: quick ? 1 : 5,
  sampled: 20,
};

type Cell = string;
const rows: { system: string; scenario: string; value: Cell }[] = [];
const json: Record<string, unknown>[] = [];
const put = (system: string, scenario: string, value: Cell, raw?: Record<string, unknown>) => {
  rows.push({ system, scenario, value });
  json.push({ system, scenario, value, ...raw });
  console.error(`  ${system} · ${scenario}: ${value}`);
};
const ms = (v: number) =>
  Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : 'n/a';
/** `promise`, or a rejection naming `what` after `ms` (a system that stalls fails its cell). */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
let stack: BenchStack | null = null;
let ds: DurableStreamsSystem | null = null;
const cleanup = async () => {
  await ds?.stop();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

const started = Date.now();
try {
  stack = await startBenchStack(dir);
  ds = await DurableStreamsSystem.start(join(dir, 'ds'));
  // As many viewers as the largest audience: one person per subscriber.
  const viewers = runs('latency')
    ? await seedViewers(join(dir, 'state'), stack.config.projectId, Math.max(...SCALE.subscribers))
    : [];
  const kiln = new KilnSystem(stack, viewers);
  const relay = new RelaySystem(stack);
  const agents = new AgentsSdkSystem(stack);
  /** `--systems=kiln,raw relay` measures only those in the latency scenarios. */
  const systemsArg = process.argv
    .find((a) => a.startsWith('--systems='))
    ?.slice(10)
    .split(',');
  const systems: System[] = [kiln, relay, agents, ds].filter(
    (system) => !systemsArg || systemsArg.includes(system.name),
  );

  // The synthetic-stream sessions of the ingest scenario, reused by resume and hydrate.
  const big = new Map<System, Channel>();
  if (runs('ingest')) {
    // 1. ingest: a real recording, and a synthetic stream (with D1 lag and statement counts for Kiln).
    console.error('ingest');
    const fixture = readFileSync(
      join(ROOT, '..', 'shared', 'fixtures', 'recorded', 'claude-code-stream-json.jsonl'),
      'utf8',
    );
    const { lines } = parseRecording(fixture);
    const format = detectFormat(lines)!;
    const fixtureEvents = (buildId: string) => {
      const out = [];
      for (let r = 0; r < SCALE.fixtureRepeats; r++) {
        const mapper = createMapper(format, {
          buildId,
          producerId: 'bench',
          turnIdPrefix: `r${r}`,
        });
        for (const line of lines) out.push(...mapper.push(line).map(fitEvent));
        out.push(...mapper.end().map(fitEvent));
      }
      return out;
    };
    for (const system of [kiln, relay]) {
      let url: string;
      let buildId: string;
      const token = stack.config.token;
      if (system === kiln) {
        const sessionId = crypto.randomUUID();
        const lease = await leaseBuild(stack, sessionId);
        url = stack.server.replace(/^http/, 'ws') + lease.ingestPath;
        buildId = lease.buildId;
      } else {
        buildId = crypto.randomUUID();
        url = `${stack.server.replace(/^http/, 'ws')}/__bench/relay/${buildId}?role=producer`;
      }
      const events = fixtureEvents(buildId);
      const producer = new IngestProducer({ url, token, buildId });
      const t0 = now();
      producer.append(events);
      await producer.flush();
      const dt = now() - t0;
      producer.close();
      put(
        system.name,
        `ingest: recorded run (${events.length} events), events/s`,
        `${Math.round(events.length / (dt / 1000))}`,
        { ms: dt },
      );
    }
    for (const system of [agents, ds]) {
      put(
        system.name,
        'ingest: recorded run, events/s',
        system === ds
          ? 'n/a: see synthetic (JSON items, no tool semantics)'
          : 'n/a: the agent is its own producer',
      );
    }
    for (const system of systems) {
      const channel = await system.open();
      let lagSamples: number[] = [];
      let poll: NodeJS.Timeout | undefined;
      if (system === kiln) {
        await fetch(`${stack.server}/__bench/d1?reset=1`);
        const k = channel as KilnChannel;
        poll = setInterval(() => {
          apiJson<{ d1LagEvents: number }>(stack!, k.health())
            .then((h) => lagSamples.push(h.d1LagEvents))
            .catch(() => undefined); // a missed sample is not a result
        }, 100);
      }
      const result = await channel.produce(SCALE.synthetic, 0);
      clearInterval(poll);
      big.set(system, channel);
      const rate = Math.round(result.events / (result.ms / 1000));
      put(
        system.name,
        `ingest: synthetic ${SCALE.synthetic.toLocaleString('en')} events, events/s`,
        `${rate}${system === relay ? ' (not stored)' : system === agents ? ' (mock model → chunks stored)' : ''}`,
        { ms: result.ms },
      );
      if (system === kiln) {
        const k = channel as KilnChannel;
        // Let the write-through finish, then count its statements.
        for (let i = 0; i < 600; i++) {
          const h = await apiJson<{ d1LagEvents: number }>(stack, k.health());
          lagSamples.push(h.d1LagEvents);
          if (h.d1LagEvents === 0) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const stats = (await (await fetch(`${stack.server}/__bench/d1`)).json()) as {
          statements: number;
          batches: number;
        };
        put(
          'kiln',
          'write-through: D1 lag p99 under load (events)',
          `${percentile(lagSamples, 99)} (p50 ${median(lagSamples)})`,
          { lagSamples: lagSamples.length },
        );
        put(
          'kiln',
          'write-through: D1 statements per 1,000 events',
          `${((stats.statements / result.events) * 1000).toFixed(2)} in ${((stats.batches / result.events) * 1000).toFixed(2)} batches (${k.headSeq} events after coalescing)`,
          stats,
        );
        lagSamples = [];
      } else {
        put(
          system.name,
          'write-through: D1 lag p99 / statements per 1,000',
          'n/a: no D1 projection',
        );
      }
    }
  }
  if (runs('latency')) {
    // 2 + 6 + 7. delivery latency, wire cost, memory.
    for (const subscribers of SCALE.subscribers) {
      for (const rate of [200, 0]) {
        const count = rate ? SCALE.slowEvents : SCALE.fastEvents;
        const label = `${subscribers} sub${subscribers > 1 ? 's' : ''} @ ${rate ? `${rate}/s` : 'full speed'}`;
        console.error(`latency ${label}`);
        for (const system of systems) {
          const channel = await system.open();
          const latencies: number[] = [];
          const probes = Array.from(
            { length: subscribers },
            (_, i) => new Probe(i < SCALE.sampled, latencies, count),
          );
          const subs: { close(): void }[] = [];
          try {
            for (let i = 0; i < probes.length; i += 50) {
              subs.push(
                ...(await within(
                  30_000,
                  Promise.all(probes.slice(i, i + 50).map((p) => channel.subscribe(p))),
                  'subscribing',
                )),
              );
            }
            const base = probes.map((p) => ({ messages: p.messages, bytes: p.bytes }));
            await within(120_000, channel.produce(count, rate), 'producing');
            const incomplete = (
              await Promise.allSettled(probes.map((p) => p.until(count - 1, 60_000)))
            ).filter((r) => r.status === 'rejected').length;
            const dups = probes.reduce((n, p) => n + p.duplicates, 0);
            put(
              system.name,
              `latency ${label}: p50 / p95 / p99`,
              `${ms(median(latencies))} / ${ms(percentile(latencies, 95))} / ${ms(percentile(latencies, 99))}${incomplete ? ` (${incomplete} subs incomplete)` : ''}${dups ? ` (${dups} dups)` : ''}`,
              { latencies: latencies.length, incomplete, dups },
            );
            if (subscribers === 100) {
              const msgs =
                median(probes.map((p, i) => p.messages - base[i]!.messages)) / (count / 1000);
              const bytes = median(probes.map((p, i) => p.bytes - base[i]!.bytes)) / (count / 1000);
              put(
                system.name,
                `wire per subscriber per 1,000 events (${label})`,
                `${Math.round(msgs)} msgs, ${(bytes / 1024).toFixed(0)} KiB`,
              );
            }
            if (subscribers === SCALE.subscribers.at(-1) && rate === 200) {
              put(
                system.name,
                `memory: server RSS with ${subscribers} subscribers`,
                MiB(system.rss()),
              );
            }
          } catch (error) {
            put(
              system.name,
              `latency ${label}: p50 / p95 / p99`,
              `failed: ${(error as Error).message.slice(0, 80)}`,
            );
          } finally {
            for (const sub of subs) sub.close();
          }
        }
      }
    }
  }
  // Resume reads the ingest scenario's synthetic sessions.
  if (runs('resume') && runs('ingest')) {
    // 3. resume after N missed events (on the synthetic stream).
    console.error('resume');
    for (const missed of SCALE.resume) {
      for (const system of systems) {
        const channel = big.get(system)!;
        if (!channel.resume || missed > SCALE.synthetic) {
          put(
            system.name,
            `resume after ${missed.toLocaleString('en')} missed: time, dups`,
            'n/a: keeps no history',
          );
          continue;
        }
        try {
          const r = await channel.resume(missed);
          put(
            system.name,
            `resume after ${missed.toLocaleString('en')} missed: time, dups`,
            `${ms(r.ms)}, ${r.duplicates} dups (${r.how}, ${r.received} received)`,
            { ...r },
          );
        } catch (error) {
          put(
            system.name,
            `resume after ${missed.toLocaleString('en')} missed: time, dups`,
            `failed: ${(error as Error).message.slice(0, 80)}`,
          );
        }
      }
    }
  }
  if (runs('hydrate')) {
    // 4. hydrate cold: sessions of 10k/100k events, server restarted.
    console.error('hydrate');
    const cold = new Map<System, Map<number, Channel>>();
    for (const system of [kiln, agents, ds]) {
      const bySize = new Map<number, Channel>();
      for (const size of SCALE.hydrate) {
        const reused = size === SCALE.synthetic ? big.get(system) : undefined;
        if (reused) bySize.set(size, reused);
        else {
          const channel = await system.open();
          await channel.produce(size, 0);
          bySize.set(size, channel);
        }
      }
      cold.set(system, bySize);
    }
    await stack.restart();
    await ds.restart();
    for (const [system, bySize] of cold) {
      for (const [size, channel] of bySize) {
        try {
          const t = await channel.hydrate!();
          put(
            system.name,
            `hydrate cold ${size.toLocaleString('en')} events`,
            `${ms(t)}${system === ds ? ' (read whole stream)' : system === agents ? ' (messages on connect)' : ' (GET /state)'}`,
          );
        } catch (error) {
          put(
            system.name,
            `hydrate cold ${size.toLocaleString('en')} events`,
            `failed: ${(error as Error).message.slice(0, 80)}`,
          );
        }
      }
    }
    for (const size of SCALE.hydrate)
      put(relay.name, `hydrate cold ${size.toLocaleString('en')} events`, 'n/a: keeps no history');
    put('kiln', 'memory: workerd RSS after restart, sessions idle', MiB(stack.workerdRss()));
  }
} finally {
  await cleanup();
}

// The table: a row per system × scenario, in scenario order.
const scenarios = [...new Set(rows.map((r) => r.scenario))];
const order = ['kiln', 'raw relay', 'agents sdk', 'durable streams'];
const lines = ['| scenario | system | result |', '|---|---|---|'];
for (const scenario of scenarios) {
  for (const system of order) {
    const row = rows.find((r) => r.scenario === scenario && r.system === system);
    if (row) lines.push(`| ${scenario} | ${system} | ${row.value} |`);
  }
}
const table = lines.join('\n');
const machine = `${cpus().length} cores, Node ${process.version}, ${quick ? '--quick' : 'full'} run, ${Math.round((Date.now() - started) / 1000)} s`;
console.log(`${table}\n\n${machine}`);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(ROOT, 'bench', 'results', `${new Date().toISOString().replaceAll(':', '-')}.json`),
  `${JSON.stringify({ machine, scale: SCALE, results: json }, null, 2)}\n`,
);
