import type { Diagnostic } from '@kiln/protocol';

/**
 * Build errors in a command's output, from the common `file:line[:col]: message` form (also
 * `file(line,col): message`, as tsc prints). Lines that are neither give nothing.
 */
export function parseBuildErrors(output: string): Diagnostic[] {
  const errors: Diagnostic[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const match =
      /^([\w./@-]+\.\w+):(\d+)(?::\d+)?:?\s+(.+)$/.exec(line) ??
      /^([\w./@-]+\.\w+)\((\d+),\d+\):\s*(.+)$/.exec(line);
    if (match) errors.push({ file: match[1], line: Number(match[2]), message: match[3] ?? '' });
  }
  return errors;
}
