import { useCallback } from 'react';
import { useNavigate } from 'react-router';

/** The sign-in path that comes back to `next` afterwards. */
function signInPath(next: string): string {
  return next === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`;
}

/**
 * Returns a function that sends the person to sign in, then back to the page they were on. Stable
 * across renders (it reads the location when called), so effects may depend on it.
 */
export function useSignInRedirect(): () => void {
  const navigate = useNavigate();
  return useCallback(() => {
    const { pathname, search } = window.location;
    void navigate(signInPath(pathname + search), { replace: true });
  }, [navigate]);
}

/** A `next` parameter made safe: only same-origin paths, never `//host` or a full URL. */
export function safeNext(next: string | null): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}
