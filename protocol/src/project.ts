import { z } from 'zod';
import { projectDeployment } from './artifacts';
import { errorFrame, permissionMode, presenceDiffFrame, presenceFrame } from './frames';
import { MAX_MESSAGE_CHARS } from './limits';
import { SeqGapError } from './reducer';
import { sessionStatus } from './status';

/**
 * The project channel (`GET /api/projects/:id/ws`, DESIGN §3): every change to a project — its
 * sessions, members, name, config — is an ordered event with the same envelope and resume rules as
 * a session's, so every tab and the terminal stay in sync without polling.
 */

const id = z.string().min(1).max(200);

export const projectRole = z.enum(['owner', 'editor', 'viewer']);
export type ProjectRole = z.infer<typeof projectRole>;

/** One session as the project's list shows it. Times are ms epoch. */
export const projectSession = z.object({
  sessionId: id,
  title: z.string(),
  status: sessionStatus,
  agent: z.string(),
  model: z.string(),
  createdAt: z.number(),
  createdBy: z.string().nullable(),
  archived: z.boolean(),
  messageCount: z.number().int().nonnegative(),
  totalTokens: z.number().int().nonnegative(),
  lastMessageAt: z.number().nullable(),
  firstMessagePreview: z.string().nullable(),
});
export type ProjectSession = z.infer<typeof projectSession>;

export const projectMember = z.object({
  userId: id,
  email: z.string(),
  name: z.string(),
  role: projectRole,
});
export type ProjectMember = z.infer<typeof projectMember>;

/** Project event bodies; the ProjectDO adds `seq` and `at`. Sent by the worker only. */
export const projectEventBody = z.discriminatedUnion('type', [
  /** A session got its first message (deferred creation) or its first build lease. */
  z.object({ type: z.literal('session-created'), session: projectSession }),
  /** Some of a session's list fields changed; absent fields did not. */
  z.object({
    type: z.literal('session-updated'),
    sessionId: id,
    changes: projectSession.omit({ sessionId: true, createdAt: true, createdBy: true }).partial(),
  }),
  z.object({ type: z.literal('session-deleted'), sessionId: id }),
  z.object({ type: z.literal('project-renamed'), name: z.string() }),
  /** A member was added or their role changed. */
  z.object({ type: z.literal('member-updated'), member: projectMember }),
  z.object({ type: z.literal('member-removed'), userId: id }),
  /** The project's settings (default agent and model) changed. */
  z.object({ type: z.literal('config-updated'), config: z.record(z.string(), z.unknown()) }),
  /** A version was published (or rolled back to) at the project's slug; null = unpublished. */
  z.object({ type: z.literal('deployment-updated'), deployment: projectDeployment.nullable() }),
]);
export type ProjectEventBody = z.infer<typeof projectEventBody>;

export const projectEvent = z.intersection(
  z.object({ seq: z.number().int().positive(), at: z.number() }),
  projectEventBody,
);
export type ProjectEvent = z.infer<typeof projectEvent>;

/** What the project channel's events build (the `snapshot` frame carries it). */
export const projectState = z.object({
  projectId: id,
  headSeq: z.number().int().nonnegative(),
  name: z.string().nullable(),
  /** Sessions the channel has seen, oldest first. Deleted ones are removed. */
  sessions: z.array(projectSession),
  /** Members whose changes the channel has seen. */
  members: z.array(projectMember),
  config: z.record(z.string(), z.unknown()),
  /** The live deployment as the channel has seen it (null before any `deployment-updated`). */
  deployment: projectDeployment.nullable().default(null),
});
export type ProjectState = z.infer<typeof projectState>;

export function createProjectState(projectId: string): ProjectState {
  return {
    projectId,
    headSeq: 0,
    name: null,
    sessions: [],
    members: [],
    config: {},
    deployment: null,
  };
}

/**
 * The one definition of what a project event does. Ignores events at or below `headSeq`; throws
 * `SeqGapError` on a gap (`ResumingSubscriber` checks seqs first and resyncs with `hello`).
 */
export function applyProjectEvent(state: ProjectState, event: ProjectEvent): ProjectState {
  if (event.seq <= state.headSeq) return state;
  if (event.seq !== state.headSeq + 1) {
    throw new SeqGapError(state.headSeq + 1, event.seq);
  }
  const next = { ...state, headSeq: event.seq };
  switch (event.type) {
    case 'session-created':
      if (next.sessions.some((s) => s.sessionId === event.session.sessionId)) return next;
      return { ...next, sessions: [...next.sessions, event.session] };
    case 'session-updated':
      return {
        ...next,
        sessions: next.sessions.map((s) =>
          s.sessionId === event.sessionId ? { ...s, ...definedOnly(event.changes) } : s,
        ),
      };
    case 'session-deleted':
      return { ...next, sessions: next.sessions.filter((s) => s.sessionId !== event.sessionId) };
    case 'project-renamed':
      return { ...next, name: event.name };
    case 'member-updated':
      return {
        ...next,
        members: [...next.members.filter((m) => m.userId !== event.member.userId), event.member],
      };
    case 'member-removed':
      return { ...next, members: next.members.filter((m) => m.userId !== event.userId) };
    case 'config-updated':
      return { ...next, config: event.config };
    case 'deployment-updated':
      return { ...next, deployment: event.deployment };
    default: {
      const unknown: never = event;
      throw new Error(`unhandled project event ${JSON.stringify(unknown)}`);
    }
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Client → ProjectDO: `hello {lastSeq}` first (and again after a gap), `ping`. */
export const projectClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), lastSeq: z.number().int().nonnegative() }),
  z.object({ type: z.literal('ping') }),
]);
export type ProjectClientFrame = z.infer<typeof projectClientFrame>;

/** ProjectDO → client. `ready` is always the first frame; then catch-up, then live batches. */
export const projectServerFrame = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ready'),
    projectId: z.string(),
    headSeq: z.number().int().nonnegative(),
    protocolVersion: z.number().int(),
    viewerId: z.string(),
  }),
  z.object({ type: z.literal('snapshot'), seq: z.number().int(), state: projectState }),
  z.object({ type: z.literal('events'), events: z.array(projectEvent) }),
  /** Who has the project open, on any page (the same presence frames as a session's). */
  presenceFrame,
  presenceDiffFrame,
  errorFrame,
  z.object({ type: z.literal('pong') }),
]);
export type ProjectServerFrame = z.infer<typeof projectServerFrame>;

// --- HTTP bodies of the control plane ---

/** `POST /api/projects/:projectId/sessions/:sessionId/messages`: a prompt; creates the session on first use. */
export const sendMessageRequest = z.object({
  clientMessageId: z.string().min(1).max(200),
  text: z.string().min(1).max(MAX_MESSAGE_CHARS),
  agent: z.string().min(1).max(100).default('demo'),
  model: z.string().max(200).default(''),
  /** Carried to the runner in the `build` frame; absent = the agent's own default. */
  permissionMode: permissionMode.optional(),
});
export type SendMessageRequest = z.input<typeof sendMessageRequest>;

/** Its answer: 201 when the message is new, 200 for a retry of one already stored. */
export const sendMessageResponse = z.object({
  sessionId: z.string(),
  messageId: z.string(),
  seq: z.number().int(),
  created: z.boolean(),
  /** True when this message also created the session. */
  sessionCreated: z.boolean(),
});
export type SendMessageResponse = z.infer<typeof sendMessageResponse>;

/** `GET /api/projects` item. */
export const projectSummary = z.object({
  id: z.string(),
  name: z.string(),
  role: projectRole,
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type ProjectSummary = z.infer<typeof projectSummary>;

/** `GET /api/runners` item: a runner token and, when it is connected, what it reported. */
export const runnerInfo = z.object({
  runnerId: z.string(),
  name: z.string(),
  connected: z.boolean(),
  version: z.string().nullable(),
  agents: z.array(z.string()),
  capacity: z.number().int(),
  activeBuilds: z.array(z.string()),
  lastSeenAt: z.number().nullable(),
  createdAt: z.number(),
});
export type RunnerInfo = z.infer<typeof runnerInfo>;
