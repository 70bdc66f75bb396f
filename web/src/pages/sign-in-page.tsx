import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { Logo } from '../app-layout';
import { ApiError, signInWithToken } from '../lib/api';
import { safeNext } from '../lib/use-sign-in-redirect';

/**
 * `/sign-in`: signs in with a personal access token (from `.kiln/dev.json` until accounts land).
 * `/sign-in#token=XYZ` — the link `pnpm dev` prints — signs in at once; the fragment never reaches
 * a server and is cleared from the address bar before anything else happens.
 */
export function SignInPage() {
  const [searchParams] = useSearchParams();
  const next = safeNext(searchParams.get('next'));
  const navigate = useNavigate();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fragmentHandled = useRef(false);

  async function submit(value: string) {
    setBusy(true);
    setError(null);
    try {
      await signInWithToken(value.trim());
      void navigate(next, { replace: true });
    } catch (caught) {
      setError(signInError(caught));
      setBusy(false);
    }
  }

  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once, on arrival
  useEffect(() => {
    // Strict mode runs effects twice; the token must be posted once.
    if (fragmentHandled.current) return;
    fragmentHandled.current = true;
    const fragmentToken = new URLSearchParams(window.location.hash.slice(1)).get('token');
    if (!fragmentToken) return;
    window.history.replaceState(
      window.history.state,
      '',
      window.location.pathname + window.location.search,
    );
    void submit(fragmentToken);
  }, []);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (token.trim()) void submit(token);
  }

  return (
    <div className="auth-page">
      <form className="auth-card" onSubmit={onSubmit}>
        <div className="auth-brand">
          <Logo />
          <span>Kiln</span>
        </div>
        <h1>Sign in</h1>
        <p className="muted">
          Paste a personal access token. <code>pnpm dev</code> writes one to{' '}
          <code>.kiln/dev.json</code> and prints a link that signs you in directly.
        </p>
        <label className="field">
          <span>Access token</span>
          <input
            type="password"
            name="token"
            autoComplete="off"
            spellCheck={false}
            value={token}
            onChange={(event) => setToken(event.target.value)}
            disabled={busy}
            required
          />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary button-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}

function signInError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return 'That token was not accepted.';
    return error.message;
  }
  return 'Sign-in failed.';
}
