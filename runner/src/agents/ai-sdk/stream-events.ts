import type { RunnerEventBody } from '@kiln/protocol';
import type { TextStreamPart, ToolSet } from 'ai';
import { costUsd, tokenCounts } from './prices';

/**
 * Maps the AI SDK's `fullStream` parts of one `streamText` call to session events. Each step's
 * text and reasoning become one assistant message (`${prefix}s${n}`), started lazily at its first
 * delta and finished at `finish-step`, followed by that step's `usage` (priced by `prices.ts`).
 * Tool calls are recorded by `runTool` as they execute; the mapper only reports calls the SDK
 * refused before executing them (bad JSON, unknown tool), which `runTool` never saw.
 */
export class StreamEventMapper {
  private step = 0;
  private messageId: string | undefined;

  constructor(
    private readonly prefix: string,
    private readonly modelId: string,
    /** Tool call ids `runTool` has recorded. */
    private readonly recorded: ReadonlySet<string>,
  ) {}

  /** Events for one part; throws the stream's error for `error`. */
  map(part: TextStreamPart<ToolSet>): RunnerEventBody[] {
    switch (part.type) {
      case 'start-step':
        this.step++;
        this.messageId = undefined;
        return [];
      case 'text-delta':
        return part.text
          ? [...this.start(), { type: 'text-delta', messageId: this.id(), delta: part.text }]
          : [];
      case 'reasoning-delta':
        return part.text
          ? [...this.start(), { type: 'reasoning-delta', messageId: this.id(), delta: part.text }]
          : [];
      case 'tool-error': {
        if (this.recorded.has(part.toolCallId)) return [];
        const message = part.error instanceof Error ? part.error.message : String(part.error);
        return [
          {
            type: 'tool-input-available',
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            input: part.input ?? null,
          },
          {
            type: 'tool-output-available',
            toolCallId: part.toolCallId,
            output: message,
            isError: true,
            truncated: false,
            durationMs: 0,
          },
        ];
      }
      case 'finish-step': {
        const events: RunnerEventBody[] = [];
        if (this.messageId) {
          events.push({
            type: 'message-finish',
            messageId: this.messageId,
            finishReason: part.finishReason,
          });
        }
        const tokens = tokenCounts(part.usage);
        const cost = costUsd(this.modelId, tokens);
        events.push({
          type: 'usage',
          ...(this.messageId ? { messageId: this.messageId } : {}),
          ...tokens,
          model: this.modelId,
          ...(cost === undefined ? {} : { costUsd: cost }),
        });
        this.messageId = undefined;
        return events;
      }
      case 'error':
        throw part.error instanceof Error ? part.error : new Error(String(part.error));
      default:
        return [];
    }
  }

  private start(): RunnerEventBody[] {
    if (this.messageId) return [];
    this.messageId = `${this.prefix}s${this.step}`;
    return [{ type: 'message-start', messageId: this.messageId, role: 'assistant' }];
  }

  private id(): string {
    return this.messageId ?? '';
  }
}
