/**
 * The bench/chaos worker (wrangler.bench.toml): Kiln's worker unchanged, its SessionDO given an
 * instrumented D1 (statement counts and a fault switch), plus the peers that run in the same
 * workerd. Routes under /__bench/ exist only here, and only while KILN_BENCH_FAULTS is set.
 */
import { routeAgentRequest } from 'agents';
import type { Env } from '../../worker/src/env';
import kiln, { SessionObject as KilnSessionObject } from '../../worker/src/index';
import { d1Stats, instrumentD1, resetD1Stats, setD1Failing } from './d1-fault';

// Every Durable Object Kiln exports; the local SessionObject below takes precedence over its own.
export * from '../../worker/src/index';
export { BenchChat } from './bench-chat';
export { RelayObject } from './relay-object';

interface BenchEnv extends Env {
  RELAY: DurableObjectNamespace;
  KILN_BENCH_FAULTS?: string;
}

/** Kiln's SessionDO with the instrumented D1; same class name, so the same storage. */
export class SessionObject extends KilnSessionObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, { ...env, DB: instrumentD1(env.DB) });
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/__bench/') && env.KILN_BENCH_FAULTS === '1') {
      const [, , area, name = 'default'] = url.pathname.split('/');
      if (area === 'relay') return env.RELAY.get(env.RELAY.idFromName(name)).fetch(request);
      if (area === 'd1') {
        const fail = url.searchParams.get('fail');
        if (fail !== null) setD1Failing(fail === '1');
        if (url.searchParams.has('reset')) resetD1Stats();
        return Response.json(d1Stats());
      }
      return new Response('no such bench route', { status: 404 });
    }
    if (url.pathname.startsWith('/agents/')) {
      return (await routeAgentRequest(request, env)) ?? new Response('no agent', { status: 404 });
    }
    return kiln.fetch(request, env, ctx);
  },
  scheduled: kiln.scheduled,
} satisfies ExportedHandler<BenchEnv>;
