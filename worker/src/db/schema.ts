import type {
  BuildStatus,
  MessageStatus,
  SessionStatus,
  TodoStatus,
  ToolCallStatus,
} from '@kiln/protocol';
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * D1 schema (DESIGN §5). The SessionDO's log is the source of truth for a session; the session
 * tables here are projections written through by it, for queries across sessions.
 * Times are ms since the epoch; JSON columns hold `JSON.stringify` text.
 */

/** People. Also Better Auth's `user` model (worker/src/auth/better-auth.ts maps it here). */
export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  emailVerified: integer('email_verified', { mode: 'boolean' }).notNull().default(false),
  image: text('image'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull().default(sql`0`),
});

/** Better Auth's `session` model: browser sign-ins, referenced by the httpOnly session cookie. */
export const authSessions = sqliteTable(
  'auth_sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    token: text('token').notNull().unique(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    ipAddress: text('ip_address'),
    userAgent: text('user_agent'),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('auth_sessions_user').on(t.userId)],
);

/** Better Auth's `account` model: a password credential or an OAuth link (GitHub). */
export const authAccounts = sqliteTable(
  'auth_accounts',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    accountId: text('account_id').notNull(),
    providerId: text('provider_id').notNull(),
    accessToken: text('access_token'),
    refreshToken: text('refresh_token'),
    idToken: text('id_token'),
    accessTokenExpiresAt: integer('access_token_expires_at', { mode: 'timestamp_ms' }),
    refreshTokenExpiresAt: integer('refresh_token_expires_at', { mode: 'timestamp_ms' }),
    scope: text('scope'),
    /** Only for `providerId = credential`: PBKDF2 hash (worker/src/auth/password.ts). */
    password: text('password'),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('auth_accounts_user').on(t.userId)],
);

/** Better Auth's `verification` model (OAuth state, email verification). */
export const authVerifications = sqliteTable('auth_verifications', {
  id: text('id').primaryKey(),
  identifier: text('identifier').notNull(),
  value: text('value').notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }),
});

/**
 * Better Auth's `rateLimit` model (`rateLimit.storage: 'database'`): one row per client IP and
 * auth path, the requests counted in the current window (worker/src/auth/better-auth.ts).
 */
export const authRateLimits = sqliteTable('auth_rate_limits', {
  id: text('id').primaryKey(),
  key: text('key').notNull().unique(),
  count: integer('count').notNull(),
  /** ms epoch of the window's last counted request. */
  lastRequest: integer('last_request').notNull(),
});

/** Personal access tokens for the CLI and scripts; only the SHA-256 hash is stored. */
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_tokens_user').on(t.userId)],
);

export const projects = sqliteTable('projects', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  ownerId: text('owner_id')
    .notNull()
    .references(() => users.id),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const projectMembers = sqliteTable(
  'project_members',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'editor', 'viewer'] }).notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.userId] }), index('members_user').on(t.userId)],
);

export const generationSessions = sqliteTable(
  'generation_sessions',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    status: text('status').$type<SessionStatus>().notNull(),
    agent: text('agent').notNull().default(''),
    model: text('model').notNull().default(''),
    title: text('title').notNull().default(''),
    protocolVersion: integer('protocol_version').notNull(),
    /** Highest seq projected into D1 so far. */
    headSeq: integer('head_seq').notNull().default(0),
    totalTokens: integer('total_tokens').notNull().default(0),
    costUsd: real('cost_usd').notNull().default(0),
    messageCount: integer('message_count').notNull().default(0),
    toolCallCount: integer('tool_call_count').notNull().default(0),
    lastMessageAt: integer('last_message_at'),
    firstMessagePreview: text('first_message_preview'),
    /** Who sent the first message (deferred creation); null for sessions made by a build lease. */
    createdBy: text('created_by'),
    /** Set when archived: hidden from the default list, still readable. */
    archivedAt: integer('archived_at'),
    createdAt: integer('created_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('sessions_project').on(t.projectId, t.createdAt),
    // MAX_SESSIONS_PER_MINUTE: a person's sessions of the last minute (worker/src/routes/session-cap.ts).
    index('sessions_created_by').on(t.createdBy, t.createdAt),
  ],
);

export const messages = sqliteTable(
  'messages',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => generationSessions.id, { onDelete: 'cascade' }),
    messageId: text('message_id').notNull(),
    role: text('role').notNull(),
    turnId: text('turn_id'),
    text: text('text').notNull(),
    reasoning: text('reasoning').notNull(),
    status: text('status').$type<MessageStatus>().notNull(),
    seq: integer('seq').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.messageId] })],
);

export const generationTodos = sqliteTable(
  'generation_todos',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => generationSessions.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    content: text('content').notNull(),
    activeForm: text('active_form').notNull(),
    status: text('status').$type<TodoStatus>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.idx] })],
);

export const generationToolCalls = sqliteTable(
  'generation_tool_calls',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => generationSessions.id, { onDelete: 'cascade' }),
    toolCallId: text('tool_call_id').notNull(),
    turnId: text('turn_id'),
    todoIndex: integer('todo_index'),
    parentToolCallId: text('parent_tool_call_id'),
    toolName: text('tool_name').notNull(),
    input: text('input').notNull(),
    output: text('output'),
    isError: integer('is_error', { mode: 'boolean' }).notNull(),
    truncated: integer('truncated', { mode: 'boolean' }).notNull(),
    status: text('status').$type<ToolCallStatus>().notNull(),
    seq: integer('seq').notNull(),
    startedAt: integer('started_at').notNull(),
    finishedAt: integer('finished_at'),
    durationMs: integer('duration_ms'),
  },
  (t) => [
    primaryKey({ columns: [t.sessionId, t.toolCallId] }),
    index('tool_calls_session_seq').on(t.sessionId, t.seq),
  ],
);

/** Token usage per session and model. */
export const usage = sqliteTable(
  'usage',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => generationSessions.id, { onDelete: 'cascade' }),
    model: text('model').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cacheReadTokens: integer('cache_read_tokens').notNull(),
    cacheWriteTokens: integer('cache_write_tokens').notNull(),
    reasoningTokens: integer('reasoning_tokens').notNull(),
    costUsd: real('cost_usd').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.model] })],
);

/** Build leases: who may ingest into which session. */
export const builds = sqliteTable(
  'builds',
  {
    id: text('id').primaryKey(),
    sessionId: text('session_id')
      .notNull()
      .references(() => generationSessions.id, { onDelete: 'cascade' }),
    projectId: text('project_id').notNull(),
    /** `user:<id>` for a personal producer (replay, import), `runner:<id>` for a runner. */
    holder: text('holder').notNull(),
    agent: text('agent').notNull(),
    model: text('model').notNull(),
    status: text('status').$type<BuildStatus>().notNull(),
    attempts: integer('attempts').notNull().default(1),
    leaseExpiresAt: integer('lease_expires_at').notNull(),
    createdAt: integer('created_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [index('builds_session').on(t.sessionId)],
);

/**
 * Runner tokens: one per runner, owned by an account; only the SHA-256 hash is stored. The token's
 * id is the runner's id (`runner:<id>` holds its build leases).
 */
export const runnerTokens = sqliteTable(
  'runner_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    /**
     * A shared (hosted) runner serves every account that has no runner of its own; made by the
     * operator (the dev stack seeds one), never through the API.
     */
    shared: integer('shared', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('runner_tokens_user').on(t.userId)],
);

/** Blobs stored in R2 (`ARTIFACTS`, key `blobs/<sha256>`), content-addressed: one row per hash. */
export const blobs = sqliteTable('blobs', {
  hash: text('hash').primaryKey(),
  size: integer('size').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** Immutable, numbered versions of a project's built output (one per uploading turn). */
export const appVersions = sqliteTable(
  'app_versions',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    sessionId: text('session_id').notNull(),
    turnId: text('turn_id').notNull(),
    files: integer('files').notNull(),
    bytes: integer('bytes').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.version] })],
);

/** A version's manifest: path → blob hash, size and content type. */
export const versionFiles = sqliteTable(
  'version_files',
  {
    projectId: text('project_id').notNull(),
    version: integer('version').notNull(),
    path: text('path').notNull(),
    hash: text('hash').notNull(),
    size: integer('size').notNull(),
    contentType: text('content_type').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.version, t.path] }),
    index('version_files_hash').on(t.hash),
  ],
);

/** A project's live deployment: `version` served at `<APPS_ORIGIN>/<slug>/`; slugs are unique. */
export const deployments = sqliteTable('deployments', {
  projectId: text('project_id')
    .primaryKey()
    .references(() => projects.id, { onDelete: 'cascade' }),
  slug: text('slug').notNull().unique(),
  version: integer('version').notNull(),
  publishedAt: integer('published_at').notNull(),
  publishedBy: text('published_by').notNull(),
});

/** Every publish, rollback and unpublish (`version` null), for the project page's list. */
export const deploymentHistory = sqliteTable(
  'deployment_history',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    slug: text('slug').notNull(),
    version: integer('version'),
    at: integer('at').notNull(),
    by: text('by').notNull(),
  },
  (t) => [index('deployment_history_project').on(t.projectId, t.at)],
);

/**
 * Which Durable Objects may hold a live socket of a person (`session:<id>` or `project:<id>`),
 * recorded at each authorized upgrade, so a revocation (member removed, role changed, token
 * revoked, signed out) reaches every object that has to close or downgrade one. A row outlives
 * its sockets until the next revocation of that person finds none left there and deletes it.
 */
export const socketHolders = sqliteTable(
  'socket_holders',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    object: text('object').notNull(),
    projectId: text('project_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.object] }),
    index('socket_holders_project').on(t.projectId, t.userId),
  ],
);
