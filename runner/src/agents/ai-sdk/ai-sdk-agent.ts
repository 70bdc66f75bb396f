import {
  type LanguageModel,
  type ModelMessage,
  modelMessageSchema,
  stepCountIs,
  streamText,
} from 'ai';
import { z } from 'zod';
import type { ToolCallContext } from '../../tools';
import type { Agent, TurnContext } from '../agent';
import { type ToolCallLog, toAiSdkTools } from './ai-sdk-tools';
import { hasBuildScript, runBuild } from './build-check';
import { selectModel } from './provider';
import { StreamEventMapper } from './stream-events';

/** The `ai-sdk` agent's `checkpoint.state`: the conversation so far, as AI SDK model messages. */
const aiSdkCheckpoint = z.object({
  version: z.literal(1),
  messages: z.array(modelMessageSchema),
});
type AiSdkCheckpoint = z.infer<typeof aiSdkCheckpoint>;

/** Options of the ai-sdk agent. */
export interface AiSdkAgentOptions {
  /** Use this model instead of choosing one from the environment (tests: a mock model). */
  model?: { model: LanguageModel; modelId: string };
  /** Environment to choose the provider from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Most model steps (calls) per round; default 20. */
  maxSteps?: number;
  /** Build failures fed back to the model before giving up; default 3. */
  maxFixAttempts?: number;
}

/** The system prompt: what the agent is and how it should use the tools. */
const SYSTEM_PROMPT = `You are Kiln's coding agent. You build and change web apps in the current workspace.
Work with the tools: plan with todo_write (keep one todo in_progress), look with list_files and read_file,
change files with write_file and edit_file (edit_file needs the exact text, read the file first),
and run programs with run_command (an argv array, no shell). Paths are relative to the workspace.
When the project has a build script it is run after your changes; fix any errors it reports.
Finish with a short summary of what you did.`;

/**
 * `ai-sdk` (DESIGN §6): a tool-using agent loop on the Vercel AI SDK (`streamText` with the Kiln
 * tools, up to `maxSteps` steps). After a round that changed files it runs the project's build
 * (`npm run build`, when package.json has one); a failure becomes `diagnostics` and the next user
 * message, up to `maxFixAttempts` times. Streams text, reasoning, tool calls and per-step usage;
 * ends with a checkpoint holding the whole conversation, which the next turn continues.
 */
export class AiSdkAgent implements Agent {
  readonly name = 'ai-sdk';

  constructor(private readonly options: AiSdkAgentOptions = {}) {}

  async run(ctx: TurnContext): Promise<void> {
    const { model, modelId } =
      this.options.model ?? selectModel(this.options.env ?? process.env, ctx.model);
    const maxSteps = this.options.maxSteps ?? 20;
    const maxFixAttempts = this.options.maxFixAttempts ?? 3;
    const previous = aiSdkCheckpoint.safeParse(ctx.checkpoint);
    const messages: ModelMessage[] = previous.success ? [...previous.data.messages] : [];
    messages.push({ role: 'user', content: ctx.prompt });

    // `plan` and `default` (ask, with nobody to answer) only look: the tools that write are left out.
    const readOnly = ctx.permissionMode === 'plan' || ctx.permissionMode === 'default';
    const toolCtx: ToolCallContext = {
      workspace: ctx.workspace,
      ...(ctx.unsandboxedCommands ? { unsandboxedCommands: true } : {}),
      signal: ctx.signal,
      emit: (e) => ctx.emit(e),
    };
    for (let round = 1; ; round++) {
      const log: ToolCallLog = { recorded: new Set(), wroteFiles: false };
      const mapper = new StreamEventMapper(`${ctx.turnId}-r${round}`, modelId, log.recorded);
      const result = streamText({
        model,
        instructions: SYSTEM_PROMPT,
        messages,
        tools: toAiSdkTools(toolCtx, log, readOnly),
        stopWhen: stepCountIs(maxSteps),
        abortSignal: ctx.signal,
        maxRetries: 2,
      });
      for await (const part of result.fullStream) {
        for (const event of mapper.map(part)) ctx.emit(event);
      }
      ctx.signal.throwIfAborted();
      messages.push(...(await result.response).messages);

      if (!log.wroteFiles || !(await hasBuildScript(ctx.workspace))) break;
      const build = await runBuild(toolCtx, `${ctx.turnId}-r${round}-build`);
      ctx.signal.throwIfAborted();
      if (build.ok || round > maxFixAttempts) break;
      messages.push({
        role: 'user',
        content: `The build failed (npm run build). Fix these errors:\n${build.output.slice(-8000)}`,
      });
    }
    const state: AiSdkCheckpoint = { version: 1, messages };
    ctx.emit({ type: 'checkpoint', turnId: ctx.turnId, agent: 'ai-sdk', state });
  }
}
