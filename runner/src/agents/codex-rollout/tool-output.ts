/**
 * What a rollout's `function_call_output.output` says: Codex 0.40-era shells wrote a JSON string
 * `{output, metadata: {exit_code}}`; failures in the sandbox and newer exec tools write plain text
 * naming the exit code ("… exit code: 2 …", "Process exited with code 1", "Exit code: 1").
 */
export function readToolOutput(raw: unknown): { output: unknown; isError: boolean } {
  if (typeof raw !== 'string') return { output: raw ?? '', isError: false };
  const wrapped = parseWrapped(raw);
  if (wrapped) return wrapped;
  const code = /(?:exit code:?|exited with code)\s*(-?\d+)/i.exec(raw)?.[1];
  return { output: raw, isError: code !== undefined && Number(code) !== 0 };
}

function parseWrapped(raw: string): { output: unknown; isError: boolean } | undefined {
  if (!raw.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    // Plain text that happens to start with a brace: read it as text.
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !('output' in value)) return undefined;
  const metadata = 'metadata' in value ? value.metadata : undefined;
  const exitCode =
    typeof metadata === 'object' && metadata !== null && 'exit_code' in metadata
      ? metadata.exit_code
      : undefined;
  return { output: value.output, isError: typeof exitCode === 'number' && exitCode !== 0 };
}
