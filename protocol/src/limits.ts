/**
 * Protocol version and limits. Every limit here is enforced by the server and documented in
 * PROTOCOL.md; clients and runners import the same numbers so they can stay under them.
 */

/** Version of the wire protocol; sent in `ready` and stored with every session. */
export const PROTOCOL_VERSION = 1;

/** Largest WebSocket frame (UTF-8 bytes) the server accepts on any socket: 1 MiB. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Largest single event (UTF-8 bytes of its JSON body): 256 KiB. Keeps a row far below DO SQLite's
 * 2 MB row limit (Cloudflare DO limits) and a replay round bounded.
 */
export const MAX_EVENT_BYTES = 256 * 1024;

/** Most events in one runner `events` frame. */
export const MAX_EVENTS_PER_FRAME = 1000;

/** Tool output cap (UTF-8 bytes of its JSON): 32 KiB; larger outputs are cut and marked `truncated`. */
export const TOOL_OUTPUT_LIMIT_BYTES = 32 * 1024;

/**
 * A subscriber missing more than this many events gets a `snapshot` at head instead of the events.
 */
export const REPLAY_LIMIT = 10_000;

/** Most events (and at most `MAX_FRAME_BYTES`) per `events` frame sent while replaying. */
export const REPLAY_ROUND_EVENTS = 500;

/** Default page size for `GET /api/sessions/:id/events`, and its maximum. */
export const EVENTS_PAGE_DEFAULT = 500;
export const EVENTS_PAGE_MAX = 5000;

/** The exact text of an application-level ping and its reply (answered without waking the DO). */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

/** Bad frames tolerated on one socket before it is closed with 1008 (policy violation). */
export const MAX_BAD_FRAMES = 10;

/** Build lease length in ms: a runner silent this long during a build loses its lease (DESIGN §4). */
export const LEASE_MS = 30_000;

/** Default fan-out flush window: events committed within it go out in one `events` frame. */
export const FLUSH_WINDOW_MS = 16;

/**
 * Socket sends per second one SessionDO allows itself for live fan-out. Measured here: a bare
 * relay DO in local workerd manages about 16,000 sends/s in total; half leaves room for ingest,
 * catch-ups and storage. The flush window widens so `subscribers × flushes/s` stays under it.
 */
export const SEND_BUDGET_PER_SECOND = 8000;

/** Frames per second a subscriber may send (token bucket, burst of twice this). */
export const MAX_CLIENT_FRAMES_PER_SECOND = 20;

/** Events per second one ingest connection may send (token bucket, burst of twice this). */
export const MAX_INGEST_EVENTS_PER_SECOND = 50_000;

/** After a lease expires, how long the same build may come back and continue (DESIGN §4). */
export const LEASE_GRACE_MS = 60_000;

/** A session active with no new event for this long is failed by the cron sweep (DESIGN §4). */
export const STUCK_SESSION_MS = 5 * 60_000;

/** After an interrupt, how long the runner has to end the turn before the session ends it. */
export const INTERRUPT_GRACE_MS = 10_000;

/**
 * Flow control for subscribers that acknowledge (`ack {seq}`): one that has been sent more than
 * this many events past its last ack is lagging — told so (`error {code: lagging}`), sent nothing
 * more until it acks everything it was sent, then sent a snapshot at head. The object never
 * queues without bound for a slow reader. (workerd exposes no `bufferedAmount` to measure the
 * socket's own backlog, so the client's acks are the signal.)
 */
export const LAG_LIMIT_EVENTS = 5000;

/** A subscriber that wants flow control acks at least every this many events (or every second). */
export const ACK_EVERY_EVENTS = 500;

/**
 * Subscribers a SessionDO holds itself; past this, new subscribers go to viewer shards, each
 * holding at most `SHARD_CAPACITY`, fed one batch per flush. 250 sockets at one flush per 32 ms
 * stay under the 8,000 sends/s budget; each shard has the same budget for its own sockets.
 */
export const SHARD_THRESHOLD = 250;
export const SHARD_CAPACITY = 250;

/**
 * Presence lists at most this many viewers (the first to join); past it a `presence` view is the
 * count plus these. Keeps each presence frame under ~5 KB however many watch: a join past the
 * list costs every watcher a ~50-byte `presence-diff` with the new count.
 */
export const PRESENCE_LIST_LIMIT = 50;

/**
 * Build artifacts (`dist/` uploaded after a successful turn). Largest single file: 10 MiB, well
 * under the Workers request body limit (100 MB on every plan) so a blob is one PUT.
 */
export const MAX_ARTIFACT_FILE_BYTES = 10 * 1024 * 1024;

/** Largest version (sum of its files' sizes): 50 MiB. */
export const MAX_VERSION_BYTES = 50 * 1024 * 1024;

/** Most files in one version; also bounds the manifest, written as one JSON parameter (D1: 2 MB a value). */
export const MAX_VERSION_FILES = 1000;

/** Longest path of a file inside a version (UTF-8 characters). */
export const MAX_ARTIFACT_PATH_LENGTH = 512;

/**
 * Versions kept per project: the cron sweep deletes older ones unless a deployment points at them,
 * then the blobs no version references.
 */
export const VERSION_RETENTION = 50;

/** Most characters in one prompt, over HTTP (`POST …/messages`) and the socket's `send` alike. */
export const MAX_MESSAGE_CHARS = 100_000;

/**
 * Turns one project may have waiting, offered or running on its hub; a message past it is
 * refused (429). Keeps one tenant's flood from growing the shared hub's queue without bound.
 */
export const MAX_QUEUED_TURNS_PER_PROJECT = 20;

/** The same across every project of one account (the project owner's, whose hub builds them). */
export const MAX_QUEUED_TURNS_PER_ACCOUNT = 100;

/** Queued turns one dispatch pass reads per agent before it stops looking (bounded work). */
export const DISPATCH_SCAN_LIMIT = 64;

/**
 * Subscriber sockets one person may hold on one session object (or viewer shard). 64, not 8: the
 * chaos suite watches one session from 50 sockets of one token, and 8 refused 42 of them. The
 * audit's 400 sockets of one viewer stay refused. The bench's 1,000 subscribers of one token need
 * distinct principals or an override (a follow-up for the performance issue).
 */
export const MAX_SOCKETS_PER_PRINCIPAL = 64;

/**
 * Catch-up byte budget per subscriber socket (token bucket in UTF-8 bytes): a `hello` is answered
 * only while the bucket is above zero, and what it sends is taken from it. Burst 16 MiB (a large
 * session's snapshot), refilled at 1 MiB/s.
 */
export const CATCH_UP_BURST_BYTES = 16 * 1024 * 1024;
export const CATCH_UP_BYTES_PER_SECOND = 1024 * 1024;

/**
 * Sessions one person may create per rolling minute (`POST …/messages` or `…/builds` on a new
 * session id); past it 429 `rate-limited` with `Retry-After` in seconds until the oldest of those
 * sessions leaves the minute. Far above a person's pace, low enough that a script cannot fill D1.
 */
export const MAX_SESSIONS_PER_MINUTE = 30;

/**
 * Personal access tokens one person may create (`POST /api/tokens`), and token sign-ins
 * (`POST /api/auth/token`) one client IP may try, per minute: the Workers Rate Limiting binding
 * `TOKEN_LIMITER` in wrangler.toml holds the same number. Past it 429 with `Retry-After: 60`.
 */
export const MAX_TOKEN_REQUESTS_PER_MINUTE = 10;

/**
 * Better Auth's rate limiter (worker/src/auth/better-auth.ts): email sign-ins and sign-ups per
 * client IP per minute; every attempt counts.
 */
export const MAX_SIGN_INS_PER_MINUTE = 5;
export const MAX_SIGN_UPS_PER_MINUTE = 5;
