import {
  capToolOutput,
  type FinishedTurnStatus,
  type RunnerEventBody,
  recordedTurnId,
  type Todo,
} from '@kiln/protocol';
import type { AgentMapper, MapperOptions, RecordingFacts } from '../mapper';
import type { RecordedLine } from '../recording';
import { type CodexItem, type CodexUsage, codexItem, codexLine } from './lines';

type ItemPhase = 'item.started' | 'item.updated' | 'item.completed';

interface TurnTrack {
  turnId: string;
  /** The last stream-level `error` line, reported if the turn then fails or is cut off. */
  error?: string;
  startedAt?: number;
  lastAt?: number;
}

/**
 * Maps `codex exec --json` output to session events. The rules are written down in
 * protocol/PROTOCOL.md §7.
 */
export class CodexMapper implements AgentMapper {
  /** `codex exec --json` does not echo the prompt; only the thread id is known. */
  readonly facts: RecordingFacts = {};
  private threadId: string | undefined;
  private turnIndex = 0;
  private turn: TurnTrack | null = null;
  /** The assistant message reasoning and agent_message items are written into. */
  private messageId: string | null = null;
  /** Text already sent for an item, so `item.updated`/`item.completed` send only what is new. */
  private readonly itemText = new Map<string, string>();
  /** Tool items whose input was sent; true once their output was too. */
  private readonly tools = new Map<string, boolean>();
  private lastTodos = '';

  constructor(private readonly options: MapperOptions) {}

  push(line: RecordedLine): RunnerEventBody[] {
    const parsed = codexLine.safeParse(line.value);
    if (!parsed.success) return [];
    const value = parsed.data;
    const out: RunnerEventBody[] = [];
    switch (value.type) {
      case 'thread.started':
        this.closeTurn(out, 'interrupted');
        this.threadId = value.thread_id;
        this.facts.sourceSessionId ??= value.thread_id;
        break;
      case 'turn.started':
        this.closeTurn(out, 'interrupted');
        this.openTurn(out, line.at);
        break;
      case 'item.started':
      case 'item.updated':
      case 'item.completed': {
        const item = codexItem.safeParse(value.item);
        if (!item.success) break;
        if (!this.turn) this.openTurn(out, line.at);
        this.onItem(out, value.type, item.data);
        break;
      }
      case 'turn.completed':
        if (!this.turn) break;
        this.finishMessage(out, 'end_turn');
        if (value.usage) out.push(this.usageEvent(value.usage));
        this.closeTurn(out, 'completed', line.at);
        break;
      case 'turn.failed':
        if (!this.turn) break;
        if (value.error?.message) this.turn.error = value.error.message;
        this.closeTurn(out, 'failed', line.at);
        break;
      case 'error':
        if (this.turn) this.turn.error = value.message;
        break;
    }
    if (this.turn && line.at !== undefined) this.turn.lastAt = line.at;
    return out;
  }

  end(): RunnerEventBody[] {
    const out: RunnerEventBody[] = [];
    this.closeTurn(out, 'interrupted');
    return out;
  }

  private openTurn(out: RunnerEventBody[], at: number | undefined): void {
    this.turnIndex++;
    const turnId = recordedTurnId(
      this.threadId ?? this.options.turnIdPrefix ?? 'codex',
      this.turnIndex,
    );
    this.turn = { turnId, ...(at === undefined ? {} : { startedAt: at }) };
    out.push({
      type: 'turn-started',
      turnId,
      buildId: this.options.buildId,
      runnerId: this.options.producerId,
      agent: this.options.agent ?? 'codex',
      model: this.options.model ?? '',
    });
  }

  private closeTurn(out: RunnerEventBody[], status: FinishedTurnStatus, at?: number): void {
    const turn = this.turn;
    if (!turn) return;
    this.finishMessage(out, status === 'completed' ? 'end_turn' : status);
    const end = at ?? turn.lastAt;
    const error =
      status === 'completed'
        ? undefined
        : (turn.error ??
          (status === 'interrupted' ? 'the recording ended before the turn’s end' : undefined));
    out.push({
      type: 'turn-finished',
      turnId: turn.turnId,
      status,
      ...(error === undefined ? {} : { error }),
      durationMs:
        turn.startedAt !== undefined && end !== undefined ? Math.max(0, end - turn.startedAt) : 0,
    });
    this.turn = null;
    this.itemText.clear();
    this.tools.clear();
  }

  private onItem(out: RunnerEventBody[], phase: ItemPhase, item: CodexItem): void {
    const done = phase === 'item.completed';
    switch (item.type) {
      case 'reasoning':
        this.emitItemText(out, item.id, item.text, 'reasoning-delta');
        return;
      case 'agent_message':
        this.emitItemText(out, item.id, item.text, 'text-delta');
        if (done) this.finishMessage(out, 'end_turn');
        return;
      case 'command_execution':
        this.toolCall(out, item.id, 'command_execution', { command: item.command });
        if (done) {
          const failed =
            (item.exit_code != null && item.exit_code !== 0) || item.status === 'failed';
          this.toolResult(out, item.id, item.aggregated_output ?? '', failed);
        }
        return;
      case 'file_change':
        this.toolCall(out, item.id, 'file_change', { changes: item.changes });
        if (done) {
          const summary = item.changes.map((c) => `${c.kind} ${c.path}`).join('\n');
          this.toolResult(out, item.id, summary, item.status === 'failed');
        }
        return;
      case 'mcp_tool_call':
        this.toolCall(out, item.id, `mcp__${item.server}__${item.tool}`, item.arguments ?? {});
        if (done) {
          const failed = item.error != null || item.status === 'failed';
          this.toolResult(
            out,
            item.id,
            item.error ? item.error.message : (item.result ?? null),
            failed,
          );
        }
        return;
      case 'web_search':
        this.toolCall(out, item.id, 'web_search', { query: item.query });
        if (done) this.toolResult(out, item.id, '', false);
        return;
      case 'todo_list':
        this.emitTodos(out, item.items);
        return;
      case 'error':
        out.push({ type: 'diagnostics', source: 'codex', errors: [{ message: item.message }] });
        return;
    }
  }

  private ensureMessage(out: RunnerEventBody[], itemId: string): string {
    if (this.messageId) return this.messageId;
    this.messageId = `${this.turn!.turnId}:${itemId}`;
    out.push({ type: 'message-start', messageId: this.messageId, role: 'assistant' });
    return this.messageId;
  }

  private finishMessage(out: RunnerEventBody[], finishReason: string): void {
    if (!this.messageId) return;
    out.push({ type: 'message-finish', messageId: this.messageId, finishReason });
    this.messageId = null;
  }

  /** Items may be sent again as they grow; only the new end of their text is a delta. */
  private emitItemText(
    out: RunnerEventBody[],
    itemId: string,
    text: string,
    type: 'text-delta' | 'reasoning-delta',
  ): void {
    const sent = this.itemText.get(itemId) ?? '';
    const delta = text.startsWith(sent) ? text.slice(sent.length) : '';
    this.itemText.set(itemId, text);
    if (!delta) return;
    const messageId = this.ensureMessage(out, itemId);
    out.push({ type, messageId, delta });
  }

  private toolCallId(itemId: string): string {
    return `${this.turn!.turnId}:${itemId}`;
  }

  /** Sends a tool item's input once, ending the message that led to it. */
  private toolCall(out: RunnerEventBody[], itemId: string, toolName: string, input: unknown): void {
    if (this.tools.has(itemId)) return;
    this.finishMessage(out, 'tool_use');
    this.tools.set(itemId, false);
    out.push({
      type: 'tool-input-available',
      toolCallId: this.toolCallId(itemId),
      toolName,
      input,
    });
  }

  private toolResult(
    out: RunnerEventBody[],
    itemId: string,
    output: unknown,
    isError: boolean,
  ): void {
    if (this.tools.get(itemId) !== false) return;
    this.tools.set(itemId, true);
    const capped = capToolOutput(output);
    out.push({
      type: 'tool-output-available',
      toolCallId: this.toolCallId(itemId),
      output: capped.output,
      isError,
      truncated: capped.truncated,
      durationMs: 0,
    });
  }

  /** Codex todos are only done or not: the first open one is taken to be in progress. */
  private emitTodos(out: RunnerEventBody[], items: { text: string; completed: boolean }[]): void {
    const firstOpen = items.findIndex((i) => !i.completed);
    const todos: Todo[] = items.map((i, index) => ({
      content: i.text,
      activeForm: i.text,
      status: i.completed ? 'completed' : index === firstOpen ? 'in_progress' : 'pending',
    }));
    const key = JSON.stringify(todos);
    if (key === this.lastTodos) return;
    this.lastTodos = key;
    out.push({ type: 'todos-updated', todos });
  }

  /** Codex counts cached tokens inside `input_tokens`; Kiln's `inputTokens` are the uncached ones. */
  private usageEvent(usage: CodexUsage): RunnerEventBody {
    const input = usage.input_tokens ?? 0;
    const cached = usage.cached_input_tokens ?? 0;
    return {
      type: 'usage',
      inputTokens: Math.max(0, input - cached),
      outputTokens: usage.output_tokens ?? 0,
      cacheReadTokens: cached,
      cacheWriteTokens: 0,
      reasoningTokens: usage.reasoning_output_tokens ?? 0,
      model: this.options.model ?? '',
    };
  }
}
