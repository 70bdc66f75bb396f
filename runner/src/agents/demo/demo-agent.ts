import { once } from 'node:events';
import path from 'node:path';
import type { RunnerEventBody, Todo } from '@kiln/protocol';
import { z } from 'zod';
import {
  type CommandResult,
  editFileTool,
  type KilnTool,
  readFileTool,
  runCommandTool,
  runTool,
  type ToolCallContext,
  todoWriteTool,
  writeFileTool,
} from '../../tools';
import { parseBuildErrors } from '../../tools/build-errors';
import type { Agent, TurnContext } from '../agent';
import { narrate } from './narrate';
import { keywordsOf, planSite, progress, type SitePlan, sectionHeading, todoItem } from './plan';
import {
  appJs,
  BUILD_MJS,
  indexHtml,
  packageJson,
  SECTIONS_MARKER,
  sectionHtml,
  stylesCss,
} from './site';

/** Where the demo's build puts the site, relative to the workspace (the daemon serves it). */
const DEMO_OUTPUT_DIR = 'dist';

/** Absolute path of the built site for a workspace. */
export function demoOutputDir(workspace: string): string {
  return path.join(workspace, DEMO_OUTPUT_DIR);
}

/** The demo agent's `checkpoint.state`: what it built so far, so a follow-up turn edits it. */
const demoCheckpoint = z.object({
  version: z.literal(1),
  turns: z.number().int().positive(),
  /** The first prompt (the page's title and lede come from it). */
  prompt: z.string(),
  /** Follow-up sections added so far, in order. */
  sections: z.array(z.object({ heading: z.string(), body: z.string() })),
  /** Workspace-relative files the agent wrote. */
  files: z.array(z.string()),
});
type DemoCheckpoint = z.infer<typeof demoCheckpoint>;

/** Options of the demo agent. */
export interface DemoAgentOptions {
  /** Pause between streamed chunks of about three words, ms; default 60. Use 0 in tests. */
  chunkDelayMs?: number;
  /**
   * In a turn (first or follow-up) whose prompt contains this text, wait after the opening
   * message until the turn is interrupted (env `KILN_DEMO_HOLD_ON_PROMPT`): a test's interrupt
   * then lands mid-turn by construction, and the stack's other turns run normally.
   */
  holdOnPrompt?: string;
}

const SITE_FILES = ['index.html', 'styles.css', 'app.js', 'package.json', 'build.mjs'];

/**
 * `demo` (DESIGN §6): offline and deterministic. The first turn plans todos, writes a small static
 * site derived from the prompt's words (index.html, styles.css, app.js, package.json, build.mjs),
 * runs `node build.mjs` (checks the files, copies them to `dist/`), and reports diagnostics, zero-
 * cost usage and a checkpoint. A follow-up turn with that checkpoint adds a section to the existing
 * page. Every file change and the build go through the real tools, as a model's would.
 */
export class DemoAgent implements Agent {
  readonly name = 'demo';
  private readonly chunkDelayMs: number;
  private readonly holdOnPrompt: string | undefined;

  constructor(options: DemoAgentOptions = {}) {
    this.chunkDelayMs = options.chunkDelayMs ?? 60;
    this.holdOnPrompt = options.holdOnPrompt || undefined;
  }

  async run(ctx: TurnContext): Promise<void> {
    const previous = demoCheckpoint.safeParse(ctx.checkpoint);
    const hold = this.holdOnPrompt !== undefined && ctx.prompt.includes(this.holdOnPrompt);
    const turn = new DemoTurn(ctx, this.chunkDelayMs, hold);
    if (previous.success) await turn.followUp(previous.data);
    else await turn.first();
  }
}

/** One turn's state: its ids, counters and the tool context. */
class DemoTurn {
  private calls = 0;
  private messages = 0;
  private outputChars = 0;
  private readonly tools: ToolCallContext;

  constructor(
    private readonly ctx: TurnContext,
    private readonly delayMs: number,
    /** Wait after the opening message until interrupted. */
    private readonly held: boolean,
  ) {
    this.tools = {
      workspace: ctx.workspace,
      ...(ctx.unsandboxedCommands ? { unsandboxedCommands: true } : {}),
      signal: ctx.signal,
      emit: (e) => ctx.emit(e),
    };
  }

  async first(): Promise<void> {
    const { prompt } = this.ctx;
    const plan = planSite(prompt);
    const todos = [
      todoItem(`Plan the ${plan.title} page`, `Planning the ${plan.title} page`),
      todoItem('Write index.html with the page structure', 'Writing index.html'),
      todoItem(
        'Style the page and add the interactive list',
        'Styling the page and adding the list',
      ),
      todoItem('Add a build script', 'Adding a build script'),
      todoItem('Run the build and check the result', 'Running the build'),
    ];
    await this.todos(todos, 0);
    await this.say(
      `I'll build **${plan.title}**: a small static page with ${plan.headings.length} sections (${plan.headings.join(', ')}) and a list where you can add a ${plan.itemNoun}. Then I'll run a build that checks the files and copies them to \`dist/\`.`,
    );
    await this.holdIfAsked();
    await this.todos(todos, 1);
    await this.write('index.html', indexHtml(plan, prompt));
    await this.todos(todos, 2);
    await this.write('styles.css', stylesCss(plan));
    await this.write('app.js', appJs(plan));
    await this.todos(todos, 3);
    await this.write('package.json', packageJson(plan));
    await this.write('build.mjs', BUILD_MJS);
    await this.todos(todos, 4);
    const build = await this.build();
    await this.todos(todos, todos.length);
    await this.say(this.summary(build, `${plan.title} is ready`));
    this.finish({ version: 1, turns: 1, prompt, sections: [], files: SITE_FILES });
  }

  async followUp(state: DemoCheckpoint): Promise<void> {
    const { prompt } = this.ctx;
    const heading = sectionHeading(prompt);
    const body = `${prompt.trim().slice(0, 300)}`;
    const sections = [...state.sections, { heading, body }];
    const todos = [
      todoItem('Read the current page', 'Reading the current page'),
      todoItem(`Add a "${heading}" section`, `Adding the "${heading}" section`),
      todoItem('Rebuild and check the page', 'Rebuilding the page'),
    ];
    await this.todos(todos, 0);
    await this.say(`I'll add a **${heading}** section to the existing page and rebuild it.`);
    await this.holdIfAsked();
    const page = await this.call(readFileTool, { path: 'index.html' });
    await this.todos(todos, 1);
    const html = page.ok ? page.value : undefined;
    if (html?.includes(SECTIONS_MARKER)) {
      await this.call(editFileTool, {
        path: 'index.html',
        oldString: `      ${SECTIONS_MARKER}`,
        newString: `${sectionHtml(heading, body)}      ${SECTIONS_MARKER}`,
      });
    } else {
      // The page is gone or was rewritten by hand: rebuild it whole from the checkpoint.
      const plan: SitePlan = planSite(state.prompt);
      const extra = sections.map((s) => sectionHtml(s.heading, s.body));
      await this.write('index.html', indexHtml(plan, state.prompt, extra));
      for (const [file, text] of [
        ['styles.css', stylesCss(plan)],
        ['app.js', appJs(plan)],
        ['package.json', packageJson(plan)],
        ['build.mjs', BUILD_MJS],
      ] as const) {
        await this.write(file, text);
      }
    }
    await this.todos(todos, 2);
    const build = await this.build();
    await this.todos(todos, todos.length);
    await this.say(this.summary(build, `Added "${heading}"`));
    this.finish({ ...state, turns: state.turns + 1, sections, files: SITE_FILES });
  }

  /** With `holdOnPrompt` matching, resolves never: throws once the turn is interrupted. */
  private async holdIfAsked(): Promise<void> {
    if (!this.held) return;
    if (!this.ctx.signal.aborted) await once(this.ctx.signal, 'abort');
    this.ctx.signal.throwIfAborted();
  }

  /** Runs `node build.mjs` and emits its diagnostics. */
  private async build(): Promise<CommandResult | undefined> {
    const result = await this.call(runCommandTool, { command: 'node', args: ['build.mjs'] });
    const value = result.ok ? result.value : undefined;
    const errors = value
      ? value.exitCode === 0
        ? []
        : parseBuildErrors(`${value.stdout}\n${value.stderr}`)
      : [{ message: result.ok ? 'build did not run' : result.error.message }];
    if (value && value.exitCode !== 0 && errors.length === 0) {
      errors.push({ message: `build exited with ${value.exitCode}` });
    }
    this.ctx.emit({ type: 'diagnostics', source: 'build', errors });
    return value;
  }

  private summary(build: CommandResult | undefined, done: string): string {
    if (build?.exitCode === 0) {
      const line = build.stdout.trim().split('\n').at(-1) ?? '';
      return `${done}. The build passed (${line}); the preview serves \`${DEMO_OUTPUT_DIR}/\`.`;
    }
    return `${done}, but the build failed; see the diagnostics.`;
  }

  private async todos(todos: Todo[], inProgress: number): Promise<void> {
    await this.call(todoWriteTool, { todos: progress(todos, inProgress) });
  }

  private async write(file: string, content: string): Promise<void> {
    const result = await this.call(writeFileTool, { path: file, content });
    if (!result.ok)
      throw new Error(`demo: could not write ${file}: ${result.error.message}`, {
        cause: result.error,
      });
  }

  /** Runs a tool through `runTool`, then stops if the turn was interrupted meanwhile. */
  private async call<Input, Output>(tool: KilnTool<Input, Output>, input: Input) {
    this.ctx.signal.throwIfAborted();
    const result = await runTool(tool, input, `${this.ctx.turnId}-t${++this.calls}`, this.tools);
    this.ctx.signal.throwIfAborted();
    return result;
  }

  private async say(text: string): Promise<void> {
    this.outputChars += text.length;
    await narrate(this.ctx.emit, `${this.ctx.turnId}-m${++this.messages}`, text, {
      delayMs: this.delayMs,
      signal: this.ctx.signal,
    });
  }

  private finish(state: DemoCheckpoint): void {
    const event: RunnerEventBody = {
      type: 'usage',
      messageId: `${this.ctx.turnId}-m${this.messages}`,
      // Rough token counts (≈ 4 characters or 0.75 words a token) so the usage panels have numbers.
      inputTokens: Math.ceil(keywordsOf(this.ctx.prompt, 1000).length / 0.75) + 200,
      outputTokens: Math.ceil(this.outputChars / 4),
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      model: 'demo',
      costUsd: 0,
    };
    this.ctx.emit(event);
    this.ctx.emit({ type: 'checkpoint', turnId: this.ctx.turnId, agent: 'demo', state });
  }
}
