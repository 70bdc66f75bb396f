import type { SessionObject } from './session/session-object';

/** Bindings from wrangler.toml. */
export interface Env {
  DB: D1Database;
  SESSIONS: DurableObjectNamespace<SessionObject>;
  ASSETS: Fetcher;
  /** Public origin of the web app (e.g. https://kiln.example.com); empty means the request's own. */
  PUBLIC_URL: string;
  /** Lifecycle overrides in ms (tests shorten them); unset means the protocol constants. */
  LEASE_MS?: string;
  LEASE_GRACE_MS?: string;
  INTERRUPT_GRACE_MS?: string;
  STUCK_SESSION_MS?: string;
}
