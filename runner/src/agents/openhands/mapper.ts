import {
  capToolOutput,
  type FinishedTurnStatus,
  type RunnerEventBody,
  recordedTurnId,
} from '@kiln/protocol';
import type { AgentMapper, MapperOptions, RecordingFacts } from '../mapper';
import type { RecordedLine } from '../recording';
import { type OpenHandsEvent, type OpenHandsUsage, openHandsEvent } from './lines';

/** Agent actions that are tools even in trajectories written before `tool_call_metadata`. */
const TOOL_ACTIONS = new Set([
  'run',
  'run_ipython',
  'edit',
  'read',
  'write',
  'browse',
  'browse_interactive',
]);

interface TurnTrack {
  turnId: string;
  startedAt?: number;
  lastAt?: number;
}

/**
 * Maps an OpenHands event trajectory to session events: user messages bound turns, agent
 * messages become assistant text, actions become tool calls (id and name from
 * `tool_call_metadata`) answered by the observation whose `cause` is the action's id, and each
 * model response's usage is counted once. The rules are written down in protocol/PROTOCOL.md §7.
 */
export class OpenHandsMapper implements AgentMapper {
  /** Trajectories name no session: `kiln import` keys them by file. */
  readonly facts: RecordingFacts = {};
  private turnIndex = 0;
  private turn: TurnTrack | null = null;
  private pendingStartAt: number | undefined;
  /** Action event id → its tool call, until an observation answers it. */
  private readonly calls = new Map<
    number,
    { toolCallId: string; at?: number; answered: boolean }
  >();
  /** Model responses already shown (a response asking for two tools is on both actions). */
  private readonly responses = new Set<string>();

  constructor(private readonly options: MapperOptions) {}

  push(line: RecordedLine): RunnerEventBody[] {
    const parsed = openHandsEvent.safeParse(line.value);
    if (!parsed.success) return [];
    const event = parsed.data;
    const out: RunnerEventBody[] = [];
    if (event.action !== undefined) this.onAction(out, event, line.at);
    else if (event.observation !== undefined) this.onObservation(out, event, line.at);
    if (this.turn && line.at !== undefined) this.turn.lastAt = line.at;
    return out;
  }

  end(): RunnerEventBody[] {
    const out: RunnerEventBody[] = [];
    this.closeTurn(out, this.endStatus());
    return out;
  }

  private onAction(out: RunnerEventBody[], event: OpenHandsEvent, at: number | undefined): void {
    const args = event.args ?? {};
    if (event.source === 'user') {
      if (event.action !== 'message') return;
      const prompt = typeof args.content === 'string' ? args.content : event.message;
      if (prompt) this.facts.firstPrompt ??= prompt;
      this.closeTurn(out, this.endStatus());
      this.pendingStartAt = at;
      return;
    }
    if (event.source !== 'agent') return;
    const metadata = event.tool_call_metadata;
    if (event.action === 'message' && !metadata) {
      const text = typeof args.content === 'string' ? args.content : (event.message ?? '');
      this.sayText(out, `${this.openTurn(out, at).turnId}:${event.id}`, text, 'end_turn', at);
      return;
    }
    if (!metadata && !TOOL_ACTIONS.has(event.action ?? '')) return;
    const turn = this.openTurn(out, at);
    const response = metadata?.model_response;
    if (response && !this.responses.has(response.id)) {
      this.responses.add(response.id);
      const content = response.choices[0]?.message.content ?? '';
      this.sayText(out, `${turn.turnId}:${response.id}`, content, 'tool_use', at);
      if (response.usage)
        out.push(usageEvent(response.usage, response.model ?? this.options.model ?? ''));
    }
    const toolCallId = metadata?.tool_call_id ?? `${turn.turnId}:${event.id}`;
    const toolName = metadata?.function_name ?? event.action ?? 'action';
    const call = response?.choices[0]?.message.tool_calls?.find((c) => c.id === toolCallId);
    out.push({
      type: 'tool-input-available',
      toolCallId,
      toolName,
      input: parseArguments(call?.function.arguments) ?? args,
    });
    if (event.action === 'finish') {
      // `finish` is answered by nothing: it ends the run, with its outputs as its result.
      out.push({
        type: 'tool-output-available',
        toolCallId,
        output: capToolOutput(args.outputs ?? {}).output,
        isError: false,
        truncated: false,
        durationMs: 0,
      });
      this.closeTurn(out, 'completed', at);
      return;
    }
    this.calls.set(event.id, { toolCallId, ...(at === undefined ? {} : { at }), answered: false });
  }

  private onObservation(
    out: RunnerEventBody[],
    event: OpenHandsEvent,
    at: number | undefined,
  ): void {
    const call = event.cause != null ? this.calls.get(event.cause) : undefined;
    if (!call || call.answered) {
      if (event.observation === 'error' && this.turn) {
        const message =
          typeof event.content === 'string' ? event.content : (event.message ?? 'error');
        out.push({ type: 'diagnostics', source: 'openhands', errors: [{ message }] });
      }
      return;
    }
    call.answered = true;
    const capped = capToolOutput(event.content ?? event.message ?? '');
    out.push({
      type: 'tool-output-available',
      toolCallId: call.toolCallId,
      output: capped.output,
      isError: event.observation === 'error' || exitCode(event.extras) !== 0,
      truncated: capped.truncated,
      durationMs: call.at !== undefined && at !== undefined ? Math.max(0, at - call.at) : 0,
    });
  }

  private sayText(
    out: RunnerEventBody[],
    messageId: string,
    text: string,
    finishReason: string,
    at: number | undefined,
  ): void {
    if (!text) return;
    this.openTurn(out, at);
    out.push({ type: 'message-start', messageId, role: 'assistant' });
    out.push({ type: 'text-delta', messageId, delta: text });
    out.push({ type: 'message-finish', messageId, finishReason });
  }

  private openTurn(out: RunnerEventBody[], at: number | undefined): TurnTrack {
    if (this.turn) return this.turn;
    this.turnIndex++;
    const turnId = recordedTurnId(this.options.turnIdPrefix ?? 'openhands', this.turnIndex);
    const startedAt = this.pendingStartAt ?? at;
    this.pendingStartAt = undefined;
    this.turn = { turnId, ...(startedAt === undefined ? {} : { startedAt }) };
    out.push({
      type: 'turn-started',
      turnId,
      buildId: this.options.buildId,
      runnerId: this.options.producerId,
      agent: this.options.agent ?? 'openhands',
      model: this.options.model ?? '',
    });
    return this.turn;
  }

  private endStatus(): FinishedTurnStatus {
    for (const call of this.calls.values()) if (!call.answered) return 'interrupted';
    return 'completed';
  }

  private closeTurn(out: RunnerEventBody[], status: FinishedTurnStatus, at?: number): void {
    const turn = this.turn;
    if (!turn) return;
    const end = at ?? turn.lastAt;
    out.push({
      type: 'turn-finished',
      turnId: turn.turnId,
      status,
      ...(status === 'completed'
        ? {}
        : { error: 'the trajectory ended with an action unanswered' }),
      durationMs:
        turn.startedAt !== undefined && end !== undefined ? Math.max(0, end - turn.startedAt) : 0,
    });
    this.turn = null;
    this.calls.clear();
  }
}

/**
 * LiteLLM's usage: `prompt_tokens` includes the cache reads and (for Anthropic) the cache writes;
 * Kiln's `inputTokens` are the rest.
 */
function usageEvent(usage: OpenHandsUsage, model: string): RunnerEventBody {
  const cacheRead =
    usage.cache_read_input_tokens ?? usage.prompt_tokens_details?.cached_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  return {
    type: 'usage',
    inputTokens: Math.max(0, (usage.prompt_tokens ?? 0) - cacheRead - cacheWrite),
    outputTokens: usage.completion_tokens ?? 0,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
    model,
  };
}

/** `exit_code` of a command observation (`extras.exit_code` or `extras.metadata.exit_code`); 0 if none. */
function exitCode(extras: Record<string, unknown> | null | undefined): number {
  const direct = extras?.exit_code;
  if (typeof direct === 'number') return direct;
  const metadata = extras?.metadata;
  if (typeof metadata === 'object' && metadata !== null && 'exit_code' in metadata) {
    return typeof metadata.exit_code === 'number' ? metadata.exit_code : 0;
  }
  return 0;
}

function parseArguments(raw: string | null | undefined): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    // Kept as the model wrote it.
    return raw;
  }
}
