import type { PresenceView } from '@kiln/protocol';

/**
 * Who else is watching: up to five initials avatars, then "+N" (the listed people past five and
 * everyone past the presence list, which names only the first `PRESENCE_LIST_LIMIT`); the tab's
 * own viewer is left out.
 */
export function Avatars({
  presence,
  selfId,
  label,
}: {
  presence: PresenceView;
  selfId?: string | null;
  label: string;
}) {
  const others = presence.viewers.filter((v) => v.viewerId !== selfId);
  const selfUnlisted = selfId != null && others.length === presence.viewers.length;
  const unlisted = Math.max(0, presence.count - presence.viewers.length - (selfUnlisted ? 1 : 0));
  // One person with two tabs is one avatar.
  const names = [...new Set(others.map((v) => v.displayName || 'Someone'))];
  if (names.length === 0 && unlisted === 0) return null;
  const shown = names.slice(0, 5);
  const more = names.length - shown.length + unlisted;
  const all = unlisted > 0 ? [...names, `${unlisted} more`] : names;
  return (
    <ul className="avatars" aria-label={`${label}: ${all.join(', ')}`} data-testid="presence">
      {shown.map((name) => (
        <li key={name} className="avatar" title={name} style={{ background: colorOf(name) }}>
          {initials(name)}
        </li>
      ))}
      {more > 0 && <li className="avatar avatar-more">+{more}</li>}
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
