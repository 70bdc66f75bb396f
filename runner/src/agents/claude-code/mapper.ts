import {
  capToolOutput,
  type FinishedTurnStatus,
  type RunnerEventBody,
  recordedTurnId,
} from '@kiln/protocol';
import type { AgentMapper, MapperOptions, RecordingFacts } from '../mapper';
import type { RecordedLine } from '../recording';
import {
  type AnthropicStreamEvent,
  anthropicStreamEvent,
  type ClaudeAssistantLine,
  type ClaudeLine,
  type ClaudeResultLine,
  type ClaudeUsage,
  type ClaudeUserLine,
  claudeContentBlock,
  claudeLine,
  claudeTodoWriteInput,
} from './lines';

/** Text Claude Code writes as a user line when the person stops a turn. */
const INTERRUPT_MARKER = '[Request interrupted by user';

interface TurnTrack {
  turnId: string;
  model: string;
  /** Opened by `system/init` (stream-json) rather than by a transcript's first assistant line. */
  openedByInit: boolean;
  interruptedByUser: boolean;
  startedAt?: number;
  lastAt?: number;
}

interface MessageTrack {
  messageId: string;
  /** `parent_tool_use_id` of the agent that writes it; null for the main agent. */
  scope: string | null;
  model: string;
  usage: ClaudeUsage;
  usageSeen: boolean;
  /** A `message_delta` carried the final usage; later assistant lines repeat an older one. */
  usageFinal: boolean;
  stopReason?: string;
  hadToolUse: boolean;
  finished: boolean;
  /** Text already sent from partial deltas, by content block index. */
  streamed: Map<number, string>;
  /** Content blocks seen on complete assistant lines so far: the next block's index. */
  completeBlocks: number;
}

interface PendingTool {
  messageId: string;
  startedAt?: number;
}

/**
 * Maps Claude Code `stream-json` output (with or without `--include-partial-messages`) and Claude
 * Code session transcripts to session events. The rules are written down in protocol/PROTOCOL.md §7.
 */
export class ClaudeCodeMapper implements AgentMapper {
  readonly facts: RecordingFacts = {};
  private turnIndex = 0;
  private turn: TurnTrack | null = null;
  private readonly messages = new Map<string, MessageTrack>();
  private readonly openMessages = new Set<MessageTrack>();
  /** The message a scope is streaming partial events for. */
  private readonly streaming = new Map<string | null, MessageTrack>();
  private readonly pendingTools = new Map<string, PendingTool>();
  /** When the latest transcript prompt was written, while no turn is open. */
  private promptAt: number | undefined;
  /** Prompts of Task (Agent) calls whose subagent has not written yet → the call's id. */
  private readonly taskPrompts = new Map<string, string>();
  /** Sidechain `agentId`s and line `uuid`s → the Task call their subagent runs under. */
  private readonly sidechains = new Map<string, string>();

  constructor(private readonly options: MapperOptions) {}

  push(line: RecordedLine): RunnerEventBody[] {
    const parsed = claudeLine.safeParse(line.value);
    if (!parsed.success) return [];
    if (parsed.data.type === 'summary') {
      this.facts.summary ??= parsed.data.summary;
      return [];
    }
    let value = parsed.data;
    this.facts.sourceSessionId ??= value.sessionId ?? value.session_id ?? undefined;
    if (value.isSidechain) {
      // A transcript subagent's line names no parent call: tie it to its Task call, else skip it.
      const scope = this.sidechainScope(value);
      if (scope === undefined) return [];
      value = { ...value, parent_tool_use_id: scope };
    }
    const out: RunnerEventBody[] = [];
    switch (value.type) {
      case 'system':
        if (this.turn)
          this.closeTurn(out, 'interrupted', 'a new turn started before this one ended');
        this.openTurn(out, value.session_id ?? value.sessionId, value.model, true, line.at);
        break;
      case 'assistant':
        this.ensureTurn(out, value.session_id ?? value.sessionId, value.message.model, line.at);
        this.onAssistant(out, value, line.at);
        break;
      case 'user':
        this.onUser(out, value, line.at);
        break;
      case 'stream_event': {
        const event = anthropicStreamEvent.safeParse(value.event);
        if (!event.success) break;
        const model = event.data.type === 'message_start' ? event.data.message.model : undefined;
        this.ensureTurn(out, value.session_id ?? value.sessionId, model, line.at);
        this.onStreamEvent(out, event.data, value.parent_tool_use_id ?? null);
        break;
      }
      case 'result':
        this.onResult(out, value);
        break;
    }
    if (this.turn && line.at !== undefined) this.turn.lastAt = line.at;
    return out;
  }

  end(): RunnerEventBody[] {
    const out: RunnerEventBody[] = [];
    if (this.turn) {
      if (this.turn.openedByInit)
        this.closeTurn(out, 'interrupted', 'the recording ended before the turn’s result');
      else this.closeTurn(out, this.transcriptTurnStatus());
    }
    return out;
  }

  // --- turns ---

  private openTurn(
    out: RunnerEventBody[],
    sessionId: string | null | undefined,
    model: string | null | undefined,
    openedByInit: boolean,
    at: number | undefined,
  ): void {
    this.turnIndex++;
    const key = sessionId ?? this.options.turnIdPrefix ?? 'claude-code';
    const startedAt = openedByInit ? at : (this.promptAt ?? at);
    this.turn = {
      turnId: recordedTurnId(key, this.turnIndex),
      model: this.options.model ?? model ?? '',
      openedByInit,
      interruptedByUser: false,
      ...(startedAt === undefined ? {} : { startedAt }),
    };
    this.promptAt = undefined;
    out.push({
      type: 'turn-started',
      turnId: this.turn.turnId,
      buildId: this.options.buildId,
      runnerId: this.options.producerId,
      agent: this.options.agent ?? 'claude-code',
      model: this.turn.model,
    });
  }

  /** Transcripts have no `system/init`: their first assistant line opens the turn. */
  private ensureTurn(
    out: RunnerEventBody[],
    sessionId: string | null | undefined,
    model: string | null | undefined,
    at: number | undefined,
  ): void {
    if (!this.turn) this.openTurn(out, sessionId, model, false, at);
  }

  private closeTurn(
    out: RunnerEventBody[],
    status: FinishedTurnStatus,
    error?: string,
    durationMs?: number,
  ): void {
    const turn = this.turn;
    if (!turn) return;
    for (const message of [...this.openMessages]) this.finishMessage(out, message);
    const measured =
      turn.startedAt !== undefined && turn.lastAt !== undefined ? turn.lastAt - turn.startedAt : 0;
    out.push({
      type: 'turn-finished',
      turnId: turn.turnId,
      status,
      ...(error === undefined ? {} : { error }),
      durationMs: Math.max(0, durationMs ?? measured),
    });
    this.turn = null;
    this.messages.clear();
    this.streaming.clear();
    // Calls still pending never get an output; the reducer marks them abandoned.
    this.pendingTools.clear();
  }

  /** A transcript turn has no result line: it was interrupted if the person said so or a call is pending. */
  private transcriptTurnStatus(): FinishedTurnStatus {
    if (this.turn?.interruptedByUser || this.pendingTools.size > 0) return 'interrupted';
    return 'completed';
  }

  private onResult(out: RunnerEventBody[], result: ClaudeResultLine): void {
    const turn = this.turn;
    if (!turn) return;
    for (const message of [...this.openMessages]) this.finishMessage(out, message);
    if (result.total_cost_usd != null) {
      // The turn's cost has no message of its own: a zero-token usage event carries it.
      out.push({
        type: 'usage',
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
        model: turn.model,
        costUsd: result.total_cost_usd,
      });
    }
    const failed = result.is_error === true || result.subtype !== 'success';
    this.closeTurn(
      out,
      failed ? 'failed' : 'completed',
      failed ? result.result || result.subtype : undefined,
      result.duration_ms ?? undefined,
    );
  }

  // --- messages ---

  private beginMessage(
    out: RunnerEventBody[],
    messageId: string,
    scope: string | null,
    model: string | null | undefined,
  ): MessageTrack {
    // A subagent writing means the message that called its Task has ended.
    if (scope !== null) {
      const owner = this.pendingTools.get(scope);
      const ownerMessage = owner && this.messages.get(owner.messageId);
      if (ownerMessage) this.finishMessage(out, ownerMessage);
    }
    for (const open of [...this.openMessages]) {
      if (open.scope === scope && open.messageId !== messageId) this.finishMessage(out, open);
    }
    const existing = this.messages.get(messageId);
    if (existing) return existing;
    const message: MessageTrack = {
      messageId,
      scope,
      model: model ?? this.turn?.model ?? '',
      usage: {},
      usageSeen: false,
      usageFinal: false,
      hadToolUse: false,
      finished: false,
      streamed: new Map(),
      completeBlocks: 0,
    };
    this.messages.set(messageId, message);
    this.openMessages.add(message);
    out.push({ type: 'message-start', messageId, role: 'assistant' });
    return message;
  }

  /** Usage is sent once per message id, when it finishes, with the last value of each field seen. */
  private finishMessage(out: RunnerEventBody[], message: MessageTrack): void {
    if (message.finished) return;
    message.finished = true;
    this.openMessages.delete(message);
    if (this.streaming.get(message.scope) === message) this.streaming.delete(message.scope);
    if (message.usageSeen) {
      out.push({
        type: 'usage',
        messageId: message.messageId,
        inputTokens: message.usage.input_tokens ?? 0,
        outputTokens: message.usage.output_tokens ?? 0,
        cacheReadTokens: message.usage.cache_read_input_tokens ?? 0,
        cacheWriteTokens: message.usage.cache_creation_input_tokens ?? 0,
        reasoningTokens: 0,
        model: message.model,
      });
    }
    out.push({
      type: 'message-finish',
      messageId: message.messageId,
      finishReason: message.stopReason ?? (message.hadToolUse ? 'tool_use' : 'end_turn'),
    });
  }

  private mergeUsage(message: MessageTrack, usage: ClaudeUsage | null | undefined): void {
    if (!usage) return;
    message.usageSeen = true;
    for (const key of Object.keys(usage) as (keyof ClaudeUsage)[]) {
      const value = usage[key];
      if (value != null) message.usage[key] = value;
    }
  }

  private onAssistant(
    out: RunnerEventBody[],
    line: ClaudeAssistantLine,
    at: number | undefined,
  ): void {
    const scope = line.parent_tool_use_id ?? null;
    const message = this.beginMessage(out, line.message.id, scope, line.message.model);
    if (!message.usageFinal) this.mergeUsage(message, line.message.usage);
    if (line.message.stop_reason) message.stopReason = line.message.stop_reason;
    for (const raw of line.message.content) {
      const index = message.completeBlocks++;
      const block = claudeContentBlock.safeParse(raw);
      if (!block.success) continue;
      const b = block.data;
      if (b.type === 'text') this.emitBlockText(out, message, index, b.text, 'text-delta');
      else if (b.type === 'thinking')
        this.emitBlockText(out, message, index, b.thinking, 'reasoning-delta');
      else if (b.type === 'tool_use') {
        message.hadToolUse = true;
        out.push({
          type: 'tool-input-available',
          toolCallId: b.id,
          toolName: b.name,
          input: b.input,
          ...(scope === null ? {} : { parentToolCallId: scope }),
        });
        this.pendingTools.set(b.id, {
          messageId: message.messageId,
          ...(at === undefined ? {} : { startedAt: at }),
        });
        if (b.name === 'TodoWrite' && scope === null) this.emitTodos(out, b.input);
        const prompt = taskPrompt(b.input);
        if (prompt !== undefined) this.taskPrompts.set(prompt, b.id);
      }
    }
  }

  /** Sends the part of a complete block's text that partial deltas have not already sent. */
  private emitBlockText(
    out: RunnerEventBody[],
    message: MessageTrack,
    index: number,
    text: string,
    type: 'text-delta' | 'reasoning-delta',
  ): void {
    const streamed = message.streamed.get(index);
    let delta = text;
    if (streamed !== undefined)
      delta = text.startsWith(streamed) ? text.slice(streamed.length) : '';
    message.streamed.set(index, text);
    if (delta) out.push({ type, messageId: message.messageId, delta });
  }

  private emitTodos(out: RunnerEventBody[], input: unknown): void {
    const parsed = claudeTodoWriteInput.safeParse(input);
    if (!parsed.success) return;
    out.push({
      type: 'todos-updated',
      todos: parsed.data.todos.map((t) => ({
        content: t.content,
        activeForm: t.activeForm ?? t.content,
        status: t.status,
      })),
    });
  }

  private onUser(out: RunnerEventBody[], line: ClaudeUserLine, at: number | undefined): void {
    const content = line.message.content;
    const blocks = typeof content === 'string' ? [{ type: 'text', text: content }] : content;
    const subagent = line.parent_tool_use_id != null;
    let prompt = !line.isMeta && !subagent;
    let interrupted = false;
    for (const raw of blocks) {
      const block = claudeContentBlock.safeParse(raw);
      if (!block.success) continue;
      const b = block.data;
      if (b.type === 'text' && b.text.startsWith(INTERRUPT_MARKER) && !subagent) interrupted = true;
      if (b.type !== 'tool_result') continue;
      prompt = false;
      const pending = this.pendingTools.get(b.tool_use_id);
      if (!pending) continue; // a result for a call this recording never showed
      this.pendingTools.delete(b.tool_use_id);
      const owner = this.messages.get(pending.messageId);
      if (owner) this.finishMessage(out, owner);
      const capped = capToolOutput(b.content === undefined ? '' : b.content);
      out.push({
        type: 'tool-output-available',
        toolCallId: b.tool_use_id,
        output: capped.output,
        isError: b.is_error === true,
        truncated: capped.truncated,
        durationMs:
          at !== undefined && pending.startedAt !== undefined
            ? Math.max(0, at - pending.startedAt)
            : 0,
      });
    }
    if (interrupted) {
      if (this.turn) {
        this.turn.interruptedByUser = true;
        if (at !== undefined) this.turn.lastAt = at;
        if (!this.turn.openedByInit) this.closeTurn(out, 'interrupted', 'interrupted by the user');
      }
      return;
    }
    // A transcript prompt ends the turn before it; stream-json turns end only with `result`.
    if (prompt) {
      const text = promptText(line);
      if (text !== undefined && !text.startsWith('<')) this.facts.firstPrompt ??= text;
      if (this.turn && !this.turn.openedByInit) this.closeTurn(out, this.transcriptTurnStatus());
      if (!this.turn) this.promptAt = at;
    }
  }

  /**
   * The Task call a sidechain line's subagent runs under: known by its `agentId` or the line it
   * follows, or — for the subagent's first line — the pending Task call whose `prompt` it is.
   */
  private sidechainScope(line: Exclude<ClaudeLine, { type: 'summary' }>): string | undefined {
    let scope =
      (line.agentId ? this.sidechains.get(line.agentId) : undefined) ??
      (line.parentUuid ? this.sidechains.get(line.parentUuid) : undefined);
    if (scope === undefined && line.type === 'user') {
      const text = promptText(line);
      scope = text === undefined ? undefined : this.taskPrompts.get(text);
      if (text !== undefined) this.taskPrompts.delete(text);
    }
    if (scope !== undefined) {
      if (line.agentId) this.sidechains.set(line.agentId, scope);
      if (line.uuid) this.sidechains.set(line.uuid, scope);
    }
    return scope;
  }

  private onStreamEvent(
    out: RunnerEventBody[],
    event: AnthropicStreamEvent,
    scope: string | null,
  ): void {
    if (event.type === 'message_start') {
      const message = this.beginMessage(out, event.message.id, scope, event.message.model);
      this.mergeUsage(message, event.message.usage);
      this.streaming.set(scope, message);
      return;
    }
    const message = this.streaming.get(scope);
    if (!message) return;
    switch (event.type) {
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'text')
          this.emitStreamed(out, message, event.index, block.text, 'text-delta');
        if (block.type === 'thinking')
          this.emitStreamed(out, message, event.index, block.thinking, 'reasoning-delta');
        return;
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (delta.type === 'text_delta')
          this.emitStreamed(out, message, event.index, delta.text, 'text-delta');
        if (delta.type === 'thinking_delta')
          this.emitStreamed(out, message, event.index, delta.thinking, 'reasoning-delta');
        return;
      }
      case 'message_delta':
        if (event.delta?.stop_reason) message.stopReason = event.delta.stop_reason;
        this.mergeUsage(message, event.usage);
        if (event.usage) message.usageFinal = true;
        return;
      case 'message_stop':
        this.finishMessage(out, message);
        return;
      case 'content_block_stop':
        return;
    }
  }

  /** Sends a partial delta and remembers it, so the block's complete line does not repeat it. */
  private emitStreamed(
    out: RunnerEventBody[],
    message: MessageTrack,
    index: number,
    text: string | null | undefined,
    type: 'text-delta' | 'reasoning-delta',
  ): void {
    message.streamed.set(index, (message.streamed.get(index) ?? '') + (text ?? ''));
    if (text) out.push({ type, messageId: message.messageId, delta: text });
  }
}

/** The text of a user line that is a string or starts with a text block. */
function promptText(line: ClaudeUserLine): string | undefined {
  const content = line.message.content;
  if (typeof content === 'string') return content;
  const first = claudeContentBlock.safeParse(content[0]);
  return first.success && first.data.type === 'text' ? first.data.text : undefined;
}

/** The `prompt` of a Task (or Agent) call's input, which its subagent receives as first line. */
function taskPrompt(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null || !('prompt' in input)) return undefined;
  return typeof input.prompt === 'string' ? input.prompt : undefined;
}
