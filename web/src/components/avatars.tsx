import type { Viewer } from '@kiln/protocol';

/** Who else is watching: up to five initials avatars, then "+N"; the tab's own viewer is left out. */
export function Avatars({
  viewers,
  selfId,
  label,
}: {
  viewers: readonly Viewer[];
  selfId?: string | null;
  label: string;
}) {
  const others = viewers.filter((v) => v.viewerId !== selfId);
  // One person with two tabs is one avatar.
  const names = [...new Set(others.map((v) => v.displayName || 'Someone'))];
  if (names.length === 0) return null;
  const shown = names.slice(0, 5);
  return (
    <ul className="avatars" aria-label={`${label}: ${names.join(', ')}`} data-testid="presence">
      {shown.map((name) => (
        <li key={name} className="avatar" title={name} style={{ background: colorOf(name) }}>
          {initials(name)}
        </li>
      ))}
      {names.length > shown.length && (
        <li className="avatar avatar-more">+{names.length - shown.length}</li>
      )}
    </ul>
  );
}

function initials(name: string): string {
  const parts = name
    .trim()
    .split(/[\s@._-]+/)
    .filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}

/** A stable hue per name. */
function colorOf(name: string): string {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 55% 45%)`;
}
