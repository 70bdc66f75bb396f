import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from '@kiln/protocol';
import { z } from 'zod';
import { parseBuildErrors, runCommandTool, runTool, type ToolCallContext } from '../../tools';

const packageScripts = z.object({ scripts: z.record(z.string(), z.string()).optional() });

/** Whether the workspace's package.json has a `build` script. */
export async function hasBuildScript(workspace: string): Promise<boolean> {
  try {
    const text = await readFile(path.join(workspace, 'package.json'), 'utf8');
    return Boolean(packageScripts.safeParse(JSON.parse(text)).data?.scripts?.build);
  } catch {
    return false; // no package.json, or not JSON: no build to run
  }
}

/** A build's outcome: clean, or failed with diagnostics and the output to show the model. */
export type BuildOutcome = { ok: true } | { ok: false; errors: Diagnostic[]; output: string };

/**
 * Runs `npm run build` through `run_command` (recorded as a tool call) and emits `diagnostics`
 * (`source: 'npm run build'`, empty when clean). Errors come from `file:line: message` lines, or
 * one error with the output's tail when none parse.
 */
export async function runBuild(ctx: ToolCallContext, toolCallId: string): Promise<BuildOutcome> {
  const result = await runTool(
    runCommandTool,
    { command: 'npm', args: ['run', 'build'] },
    toolCallId,
    ctx,
  );
  let outcome: BuildOutcome;
  if (result.ok && result.value.exitCode === 0) {
    outcome = { ok: true };
  } else {
    const output = result.ok
      ? `${result.value.stdout}\n${result.value.stderr}`.trim()
      : result.error.message;
    const parsed = parseBuildErrors(output);
    outcome = {
      ok: false,
      output,
      errors: parsed.length ? parsed : [{ message: output.slice(-2000) || 'build failed' }],
    };
  }
  ctx.emit({
    type: 'diagnostics',
    source: 'npm run build',
    errors: outcome.ok ? [] : outcome.errors,
  });
  return outcome;
}
