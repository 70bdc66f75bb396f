import { TOOL_OUTPUT_LIMIT_BYTES } from './limits';

const encoder = new TextEncoder();

/** UTF-8 byte length of a value's JSON. */
export function jsonByteLength(value: unknown): number {
  return encoder.encode(JSON.stringify(value) ?? 'null').length;
}

/**
 * Caps a tool output at `TOOL_OUTPUT_LIMIT_BYTES` (32 KiB of JSON). An output under the cap is
 * returned as is; a larger one becomes its text (a string output, or the JSON of any other value)
 * cut to fit, with `truncated: true`.
 */
export function capToolOutput(output: unknown): { output: unknown; truncated: boolean } {
  if (jsonByteLength(output) <= TOOL_OUTPUT_LIMIT_BYTES) return { output, truncated: false };
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  // Leave room for JSON escaping: cut by bytes of the escaped form.
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonByteLength(text.slice(0, mid)) <= TOOL_OUTPUT_LIMIT_BYTES) lo = mid;
    else hi = mid - 1;
  }
  return { output: text.slice(0, lo), truncated: true };
}
