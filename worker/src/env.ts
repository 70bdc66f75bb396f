import type { SessionObject } from './session/session-object';

/** Bindings from wrangler.toml. */
export interface Env {
  DB: D1Database;
  SESSIONS: DurableObjectNamespace<SessionObject>;
  ASSETS: Fetcher;
  /** Public origin of the web app (e.g. https://kiln.example.com); empty means the request's own. */
  PUBLIC_URL: string;
}
