import {
  capToolOutput,
  type FinishedTurnStatus,
  type RunnerEventBody,
  recordedTurnId,
} from '@kiln/protocol';
import type { AgentMapper, MapperOptions, RecordingFacts } from '../mapper';
import type { RecordedLine } from '../recording';
import {
  eventMsg,
  type ResponseItem,
  type RolloutUsage,
  responseItem,
  rolloutLine,
  updatePlanArgs,
} from './lines';
import { readToolOutput } from './tool-output';

interface TurnTrack {
  turnId: string;
  startedAt?: number;
  lastAt?: number;
  error?: string;
  messages: number;
}

/** User-role messages Codex writes itself (environment, instructions) rather than the person. */
const CONTEXT_PREFIXES = [
  '<environment_context>',
  '<user_instructions>',
  '<INSTRUCTIONS>',
  '# AGENTS.md',
];

/**
 * Maps a Codex session rollout (`~/.codex/sessions/…/rollout-*.jsonl`) to session events. Reads
 * the model's `response_item`s for text, reasoning and tool calls (the `event_msg` copies of them
 * are skipped so text is not doubled) and `event_msg` for turn bounds and token counts. The rules
 * are written down in protocol/PROTOCOL.md §7.
 */
export class CodexRolloutMapper implements AgentMapper {
  readonly facts: RecordingFacts = {};
  private sessionId: string | undefined;
  private model = '';
  private turnIndex = 0;
  private turn: TurnTrack | null = null;
  /** When the turn to come was started (`task_started`) or prompted, before it has any output. */
  private pendingStartAt: number | undefined;
  private messageId: string | null = null;
  /** Tool calls of the open turn: call id → when its input was seen, and whether it was answered. */
  private readonly calls = new Map<string, { at?: number; answered: boolean }>();
  private lastTotal = '';

  constructor(private readonly options: MapperOptions) {}

  push(line: RecordedLine): RunnerEventBody[] {
    const parsed = rolloutLine.safeParse(line.value);
    if (!parsed.success) return [];
    const value = parsed.data;
    const out: RunnerEventBody[] = [];
    switch (value.type) {
      case 'session_meta':
        this.sessionId ??= value.payload.id;
        this.facts.sourceSessionId ??= value.payload.id;
        break;
      case 'turn_context':
        if (value.payload.model) this.model = value.payload.model;
        break;
      case 'response_item': {
        const item = responseItem.safeParse(value.payload);
        if (item.success) this.onItem(out, item.data, line.at);
        break;
      }
      case 'event_msg':
        this.onEvent(out, value.payload, line.at);
        break;
    }
    if (this.turn && line.at !== undefined) this.turn.lastAt = line.at;
    return out;
  }

  end(): RunnerEventBody[] {
    const out: RunnerEventBody[] = [];
    this.closeTurn(out, this.endStatus());
    return out;
  }

  private onEvent(out: RunnerEventBody[], payload: unknown, at: number | undefined): void {
    const parsed = eventMsg.safeParse(payload);
    if (!parsed.success) return;
    const event = parsed.data;
    switch (event.type) {
      case 'task_started':
        this.closeTurn(out, this.endStatus());
        this.pendingStartAt = at;
        return;
      case 'task_complete': {
        const turn = this.turn;
        if (!turn) return;
        const durationMs = event.duration_ms ?? undefined;
        this.closeTurn(out, 'completed', at, durationMs);
        return;
      }
      case 'turn_aborted':
        if (this.turn) this.turn.error = `aborted: ${event.reason ?? 'unknown reason'}`;
        this.closeTurn(out, 'interrupted', at);
        return;
      case 'error':
        if (this.turn) this.turn.error = event.message;
        return;
      case 'token_count': {
        const info = event.info;
        const total = JSON.stringify(info?.total_token_usage ?? null);
        // Codex repeats a token_count without a new request (same totals): count it once.
        if (!info?.last_token_usage || total === this.lastTotal) return;
        this.lastTotal = total;
        this.openTurn(out, at);
        out.push(this.usageEvent(info.last_token_usage));
        return;
      }
      case 'user_message':
        // The prompt is read from its response_item; this is Codex's copy of it.
        return;
    }
  }

  private onItem(out: RunnerEventBody[], item: ResponseItem, at: number | undefined): void {
    switch (item.type) {
      case 'message': {
        const text = item.content.map((part) => part.text ?? '').join('');
        if (item.role === 'user') {
          if (CONTEXT_PREFIXES.some((prefix) => text.startsWith(prefix))) return;
          this.facts.firstPrompt ??= text;
          this.onPrompt(out, at);
          return;
        }
        if (item.role !== 'assistant' || !text) return;
        const messageId = this.ensureMessage(out, at);
        out.push({ type: 'text-delta', messageId, delta: text });
        this.finishMessage(out, 'end_turn');
        return;
      }
      case 'reasoning': {
        const text = (item.summary ?? []).map((part) => part.text ?? '').join('\n');
        if (!text) return;
        const messageId = this.ensureMessage(out, at);
        out.push({ type: 'reasoning-delta', messageId, delta: text });
        return;
      }
      case 'function_call':
      case 'custom_tool_call': {
        this.openTurn(out, at);
        this.finishMessage(out, 'tool_use');
        const input = item.type === 'function_call' ? parseArguments(item.arguments) : item.input;
        this.calls.set(item.call_id, { ...(at === undefined ? {} : { at }), answered: false });
        out.push({
          type: 'tool-input-available',
          toolCallId: item.call_id,
          toolName: item.name,
          input,
        });
        if (item.name === 'update_plan') {
          const plan = updatePlanArgs.safeParse(input);
          if (plan.success) {
            out.push({
              type: 'todos-updated',
              todos: plan.data.plan.map((p) => ({
                content: p.step,
                activeForm: p.step,
                status: p.status,
              })),
            });
          }
        }
        return;
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const call = this.calls.get(item.call_id);
        if (!call || call.answered) return;
        call.answered = true;
        const { output, isError } = readToolOutput(item.output);
        const capped = capToolOutput(output);
        out.push({
          type: 'tool-output-available',
          toolCallId: item.call_id,
          output: capped.output,
          isError,
          truncated: capped.truncated,
          durationMs: call.at !== undefined && at !== undefined ? Math.max(0, at - call.at) : 0,
        });
        return;
      }
    }
  }

  /** A person's prompt ends the turn that answered the previous one. */
  private onPrompt(out: RunnerEventBody[], at: number | undefined): void {
    if (this.turn) this.closeTurn(out, this.endStatus());
    this.pendingStartAt ??= at;
  }

  private openTurn(out: RunnerEventBody[], at: number | undefined): TurnTrack {
    if (this.turn) return this.turn;
    this.turnIndex++;
    const turnId = recordedTurnId(
      this.sessionId ?? this.options.turnIdPrefix ?? 'codex',
      this.turnIndex,
    );
    const startedAt = this.pendingStartAt ?? at;
    this.pendingStartAt = undefined;
    this.turn = { turnId, messages: 0, ...(startedAt === undefined ? {} : { startedAt }) };
    out.push({
      type: 'turn-started',
      turnId,
      buildId: this.options.buildId,
      runnerId: this.options.producerId,
      agent: this.options.agent ?? 'codex',
      model: this.options.model ?? this.model,
    });
    return this.turn;
  }

  /** A turn cut off with a call still unanswered was interrupted; otherwise it completed. */
  private endStatus(): FinishedTurnStatus {
    for (const call of this.calls.values()) if (!call.answered) return 'interrupted';
    return 'completed';
  }

  private closeTurn(
    out: RunnerEventBody[],
    status: FinishedTurnStatus,
    at?: number,
    durationMs?: number,
  ): void {
    const turn = this.turn;
    if (!turn) return;
    this.finishMessage(out, status === 'completed' ? 'end_turn' : status);
    const end = at ?? turn.lastAt;
    const error =
      status === 'completed'
        ? undefined
        : (turn.error ?? 'the recording ended with a tool call unanswered');
    out.push({
      type: 'turn-finished',
      turnId: turn.turnId,
      status,
      ...(error === undefined ? {} : { error }),
      durationMs:
        durationMs ??
        (turn.startedAt !== undefined && end !== undefined ? Math.max(0, end - turn.startedAt) : 0),
    });
    this.turn = null;
    this.calls.clear();
  }

  private ensureMessage(out: RunnerEventBody[], at: number | undefined): string {
    const turn = this.openTurn(out, at);
    if (this.messageId) return this.messageId;
    turn.messages++;
    this.messageId = `${turn.turnId}:m${turn.messages}`;
    out.push({ type: 'message-start', messageId: this.messageId, role: 'assistant' });
    return this.messageId;
  }

  private finishMessage(out: RunnerEventBody[], finishReason: string): void {
    if (!this.messageId) return;
    out.push({ type: 'message-finish', messageId: this.messageId, finishReason });
    this.messageId = null;
  }

  /** Codex counts cached tokens inside `input_tokens`; Kiln's `inputTokens` are the uncached ones. */
  private usageEvent(usage: RolloutUsage): RunnerEventBody {
    const input = usage.input_tokens ?? 0;
    const cached = usage.cached_input_tokens ?? 0;
    return {
      type: 'usage',
      inputTokens: Math.max(0, input - cached),
      outputTokens: usage.output_tokens ?? 0,
      cacheReadTokens: cached,
      cacheWriteTokens: 0,
      reasoningTokens: usage.reasoning_output_tokens ?? 0,
      model: this.options.model ?? this.model,
    };
  }
}

/** Function call arguments are a JSON string; one that does not parse is kept as text. */
function parseArguments(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    // Kept as the model wrote it.
    return raw;
  }
}
