import { stripVTControlCharacters } from 'node:util';
import type { SessionState, ToolCallState } from '@kiln/protocol';
import { createColors } from 'picocolors';

/** How `renderSession` draws. */
export interface RenderOptions {
  /** ANSI colours on or off. */
  color: boolean;
  /** Terminal width in columns; lines are cut to fit. */
  width: number;
  /** Most tool calls shown (the latest ones). */
  toolCalls?: number;
  /** Most lines of the latest assistant message shown. */
  textLines?: number;
}

/**
 * The live terminal view of a session: title and status, the todo list (✓ done, ▶ in progress,
 * · pending), the latest tool calls with status and duration (subagent calls indented under their
 * Task), the tail of the latest assistant text, and usage. Pure: state in, text out.
 */
export function renderSession(state: SessionState, options: RenderOptions): string {
  const c = createColors(options.color);
  const width = Math.max(20, options.width);
  const lines: string[] = [];
  const status = statusColor(c, state.status);
  lines.push(
    `${c.bold(state.title || state.sessionId)}  ${status}  ${c.dim(`seq ${state.headSeq}`)}`,
  );

  if (state.todos.length > 0) {
    lines.push('', c.bold('Todos'));
    for (const todo of state.todos) {
      if (todo.status === 'completed') lines.push(`  ${c.green('✓')} ${c.dim(todo.content)}`);
      else if (todo.status === 'in_progress') lines.push(`  ${c.yellow('▶')} ${todo.activeForm}`);
      else lines.push(`  ${c.dim('·')} ${todo.content}`);
    }
  }

  if (state.toolCalls.length > 0) {
    const shown = state.toolCalls.slice(-(options.toolCalls ?? 12));
    const hidden = state.toolCalls.length - shown.length;
    lines.push('', c.bold(`Tool calls (${state.toolCalls.length})`));
    if (hidden > 0) lines.push(c.dim(`  … ${hidden} earlier`));
    for (const call of shown) lines.push(toolLine(c, call));
  }

  const message = state.messages.findLast((m) => m.role === 'assistant' && m.text.length > 0);
  if (message) {
    const textLines = message.text
      .trimEnd()
      .split('\n')
      .slice(-(options.textLines ?? 8));
    lines.push('', c.bold(message.status === 'streaming' ? 'Assistant …' : 'Assistant'));
    for (const line of textLines) lines.push(`  ${line}`);
  }

  const u = state.usage;
  if (u.inputTokens + u.outputTokens + u.cacheReadTokens > 0 || u.costUsd > 0) {
    const cost = u.costUsd > 0 ? `  $${u.costUsd.toFixed(4)}` : '';
    lines.push(
      '',
      c.dim(
        `tokens in ${u.inputTokens} · out ${u.outputTokens} · cache read ${u.cacheReadTokens} · cache write ${u.cacheWriteTokens}${cost}`,
      ),
    );
  }
  return lines.map((line) => fit(line, width)).join('\n');
}

type Colors = ReturnType<typeof createColors>;

function statusColor(c: Colors, status: SessionState['status']): string {
  switch (status) {
    case 'active':
      return c.yellow('● active');
    case 'queued':
      return c.yellow('○ queued');
    case 'completed':
    case 'idle':
      return c.green(`✓ ${status}`);
    case 'failed':
      return c.red('✗ failed');
    case 'interrupted':
      return c.magenta('■ interrupted');
  }
}

function toolLine(c: Colors, call: ToolCallState): string {
  const indent = call.parentToolCallId ? '    ↳ ' : '  ';
  const mark =
    call.status === 'running'
      ? c.yellow('…')
      : call.status === 'abandoned'
        ? c.dim('–')
        : call.isError
          ? c.red('✗')
          : c.green('✓');
  const duration =
    call.status === 'running'
      ? c.yellow('running')
      : call.durationMs !== undefined
        ? c.dim(formatDuration(call.durationMs))
        : '';
  return `${indent}${mark} ${c.cyan(call.toolName)} ${summarizeInput(call.input)}  ${duration}`;
}

/** The most telling field of a tool input: a command, path, pattern or description. */
function summarizeInput(input: unknown): string {
  if (typeof input === 'string') return oneLine(input);
  if (typeof input !== 'object' || input === null) return '';
  for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description']) {
    const value: unknown = Reflect.get(input, key);
    if (typeof value === 'string') return oneLine(value);
  }
  return '';
}

/** `850ms`, `1.2s`, `2m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1_000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

/** Cuts a line to `width` visible columns, keeping its colour codes. */
function fit(line: string, width: number): string {
  const visible = stripVTControlCharacters(line);
  if (visible.length <= width) return line;
  // Cutting inside colour codes is not worth the complexity: drop colours on the long line.
  return `${visible.slice(0, width - 1)}…`;
}
