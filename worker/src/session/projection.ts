import type { SessionEvent, SessionState } from '@kiln/protocol';
import { and, eq, gte, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { DrizzleD1Database } from 'drizzle-orm/d1';
import {
  generationSessions,
  generationTodos,
  generationToolCalls,
  messages,
  usage,
} from '../db/schema';

/**
 * D1 write-through: which rows a range of events touched, and the upserts that bring those rows to
 * the session's current state. Upserting current state (not replaying each event) makes a retry
 * after a failed batch harmless and lets one batch cover many events.
 */

export interface Touched {
  toolCallIds: Set<string>;
  messageIds: Set<string>;
  todos: boolean;
  usage: boolean;
  /** Turns that finished: their running calls and streaming messages changed status. */
  finishedTurnIds: Set<string>;
  /** The last checkpoint event in the range (with its state), if any. */
  checkpoint?: Extract<SessionEvent, { type: 'checkpoint' }>;
}

/** Collects what a seq-ordered range of events touched. Pure. */
export function collectTouched(events: readonly SessionEvent[]): Touched {
  const touched: Touched = {
    toolCallIds: new Set(),
    messageIds: new Set(),
    todos: false,
    usage: false,
    finishedTurnIds: new Set(),
  };
  for (const event of events) {
    switch (event.type) {
      case 'user-message':
      case 'message-start':
      case 'text-delta':
      case 'reasoning-delta':
      case 'message-finish':
        touched.messageIds.add(event.messageId);
        break;
      case 'tool-input-available':
      case 'tool-output-available':
        touched.toolCallIds.add(event.toolCallId);
        break;
      case 'todos-updated':
        touched.todos = true;
        break;
      case 'usage':
        touched.usage = true;
        break;
      case 'checkpoint':
        touched.checkpoint = event;
        break;
      case 'turn-finished':
        touched.finishedTurnIds.add(event.turnId);
        break;
      default:
        break;
    }
  }
  return touched;
}

type Db = DrizzleD1Database<Record<string, never>>;

/**
 * Statements that project `state` into D1 for the rows `touched` names, session row first.
 * `projectedSeq` is the last event of the range: the session row records it as `head_seq`.
 */
export function projectionStatements(
  db: Db,
  state: SessionState,
  touched: Touched,
  projectedSeq: number,
  now: number,
): BatchItem<'sqlite'>[] {
  const statements: BatchItem<'sqlite'>[] = [sessionRowUpsert(db, state, projectedSeq, now)];
  const sessionId = state.sessionId;

  const inFinishedTurn = (turnId: string | undefined) =>
    turnId !== undefined && touched.finishedTurnIds.has(turnId);
  for (const message of state.messages) {
    if (!touched.messageIds.has(message.messageId) && !inFinishedTurn(message.turnId)) continue;
    const row = {
      sessionId,
      messageId: message.messageId,
      role: message.role,
      turnId: message.turnId ?? null,
      text: message.text,
      reasoning: message.reasoning,
      status: message.status,
      seq: message.seq,
      createdAt: message.at,
    };
    statements.push(
      db
        .insert(messages)
        .values(row)
        .onConflictDoUpdate({
          target: [messages.sessionId, messages.messageId],
          set: { text: row.text, reasoning: row.reasoning, status: row.status, turnId: row.turnId },
        }),
    );
  }

  for (const call of state.toolCalls) {
    if (!touched.toolCallIds.has(call.toolCallId) && !inFinishedTurn(call.turnId)) continue;
    const row = {
      sessionId,
      toolCallId: call.toolCallId,
      turnId: call.turnId ?? null,
      todoIndex: call.todoIndex ?? null,
      parentToolCallId: call.parentToolCallId ?? null,
      toolName: call.toolName,
      input: JSON.stringify(call.input ?? null),
      output: call.output === undefined ? null : JSON.stringify(call.output),
      isError: call.isError,
      truncated: call.truncated,
      status: call.status,
      seq: call.seq,
      startedAt: call.startedAt,
      finishedAt: call.finishedAt ?? null,
      durationMs: call.durationMs === undefined ? null : Math.round(call.durationMs),
    };
    const { sessionId: _s, toolCallId: _t, ...set } = row;
    statements.push(
      db
        .insert(generationToolCalls)
        .values(row)
        .onConflictDoUpdate({
          target: [generationToolCalls.sessionId, generationToolCalls.toolCallId],
          set,
        }),
    );
  }

  if (touched.todos) {
    statements.push(
      db
        .delete(generationTodos)
        .where(
          and(
            eq(generationTodos.sessionId, sessionId),
            gte(generationTodos.idx, state.todos.length),
          ),
        ),
    );
    state.todos.forEach((todo, idx) => {
      statements.push(
        db
          .insert(generationTodos)
          .values({ sessionId, idx, ...todo })
          .onConflictDoUpdate({
            target: [generationTodos.sessionId, generationTodos.idx],
            set: { content: todo.content, activeForm: todo.activeForm, status: todo.status },
          }),
      );
    });
  }

  if (touched.usage) {
    for (const [model, totals] of Object.entries(state.usageByModel)) {
      statements.push(
        db
          .insert(usage)
          .values({ sessionId, model, ...totals })
          .onConflictDoUpdate({ target: [usage.sessionId, usage.model], set: totals }),
      );
    }
  }

  return statements;
}

function sessionRowUpsert(db: Db, state: SessionState, projectedSeq: number, now: number) {
  const lastTurn = state.turns[state.turns.length - 1];
  const firstTurn = state.turns[0];
  const firstUser = state.messages.find((m) => m.role === 'user');
  const lastMessage = state.messages[state.messages.length - 1];
  const ended = state.status !== 'active' && state.status !== 'queued' && lastTurn?.finishedAt;
  const values = {
    status: state.status,
    agent: lastTurn?.agent ?? '',
    model: lastTurn?.model ?? '',
    title: state.title,
    protocolVersion: state.protocolVersion,
    headSeq: projectedSeq,
    totalTokens: state.usage.inputTokens + state.usage.outputTokens,
    costUsd: state.usage.costUsd,
    messageCount: state.messages.length,
    toolCallCount: state.toolCalls.length,
    lastMessageAt: lastMessage?.at ?? null,
    firstMessagePreview: (firstUser ?? state.messages[0])?.text.slice(0, 200) ?? null,
    startedAt: firstTurn?.startedAt ?? null,
    finishedAt: ended ? (lastTurn?.finishedAt ?? null) : null,
    updatedAt: now,
  };
  return db
    .insert(generationSessions)
    .values({ id: state.sessionId, projectId: state.projectId, createdAt: now, ...values })
    .onConflictDoUpdate({
      target: generationSessions.id,
      set: values,
      // Never move a row backwards if an older batch is retried after a newer one committed.
      setWhere: sql`${generationSessions.headSeq} <= ${projectedSeq}`,
    });
}
