import type { PermissionMode } from '@kiln/protocol';

/** The modes in the order the select lists them, with what each lets the agent do unasked. */
const MODES: { value: PermissionMode; label: string }[] = [
  { value: 'acceptEdits', label: 'Accept edits' },
  { value: 'plan', label: 'Plan only (read)' },
  { value: 'default', label: 'Ask (read only)' },
  { value: 'bypassPermissions', label: 'Bypass permissions' },
];

/** The mode a composer starts with: edits inside the workspace, the runner agents' own default. */
export const DEFAULT_PERMISSION_MODE: PermissionMode = 'acceptEdits';

/**
 * What the agent may do without asking, for the turn a prompt starts (PROTOCOL.md §8). Nobody
 * answers a prompt on a runner, so "Ask" means the agent only reads.
 */
export function PermissionModeSelect({
  id,
  value,
  onChange,
  disabled,
}: {
  id: string;
  value: PermissionMode;
  onChange(mode: PermissionMode): void;
  disabled?: boolean;
}) {
  return (
    <select
      id={id}
      data-testid="permission-mode"
      value={value}
      onChange={(e) => onChange(MODES.find((m) => m.value === e.target.value)?.value ?? value)}
      disabled={disabled}
    >
      {MODES.map((m) => (
        <option key={m.value} value={m.value}>
          {m.label}
        </option>
      ))}
    </select>
  );
}
