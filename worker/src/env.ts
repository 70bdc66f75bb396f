import type { ProjectObject } from './project/project-object';
import type { RunnerHub } from './runners/runner-hub';
import type { SessionObject } from './session/session-object';
import type { ViewerShard } from './session/viewer-shard';
import type { WriteThroughHealth } from './session/write-through-health';

/** Bindings from wrangler.toml. */
export interface Env {
  DB: D1Database;
  SESSIONS: DurableObjectNamespace<SessionObject>;
  /** The platform-wide D1 write-through lag (one instance, `global`). */
  WRITE_THROUGH_HEALTH: DurableObjectNamespace<WriteThroughHealth>;
  /** Viewer shards of busy sessions, named `<sessionId>#<index>`. */
  VIEWER_SHARDS: DurableObjectNamespace<ViewerShard>;
  /** One ProjectDO per project: the ordered project channel. */
  PROJECTS: DurableObjectNamespace<ProjectObject>;
  /** One RunnerHubDO per account: its runners' registry and the dispatch queue. */
  RUNNER_HUBS: DurableObjectNamespace<RunnerHub>;
  ASSETS: Fetcher;
  /** Workers Rate Limiting, 10 per minute per key: token creation and token sign-in (wrangler.toml). */
  TOKEN_LIMITER: RateLimit;
  /** Build artifacts: blobs at `blobs/<sha256>` (PROTOCOL.md §10). */
  ARTIFACTS: R2Bucket;
  /** Origin of served apps (previews, deployments), a different site from Kiln's; empty = none. */
  APPS_ORIGIN: string;
  /** Public origin of the web app (e.g. https://kiln.example.com); empty means the request's own. */
  PUBLIC_URL: string;
  /** Signs Better Auth cookies; required outside localhost (`wrangler secret put`). */
  BETTER_AUTH_SECRET?: string;
  /** The operator's bearer token for the full `GET /api/health` (session ids, D1 errors); unset = nobody. */
  OPERATOR_TOKEN?: string;
  /** GitHub OAuth app; sign-in with GitHub is offered only when both are set. */
  GITHUB_CLIENT_ID?: string;
  GITHUB_CLIENT_SECRET?: string;
  /** Lifecycle overrides in ms (tests shorten them); unset means the protocol's constants. */
  LEASE_MS?: string;
  LEASE_GRACE_MS?: string;
  INTERRUPT_GRACE_MS?: string;
  STUCK_SESSION_MS?: string;
  /** Viewer shard overrides (tests make them tiny); unset means the protocol's constants. */
  SHARD_THRESHOLD?: string;
  SHARD_CAPACITY?: string;
}
