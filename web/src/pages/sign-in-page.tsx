import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { Logo } from '../app-layout';
import { ApiError, fetchAuthMethods, signInWithPassword, signInWithToken } from '../lib/api';
import { safeNext } from '../lib/use-sign-in-redirect';

/**
 * `/sign-in`: sign in or sign up with email and password (or GitHub, when configured); a personal
 * access token still works (from `.kiln/dev.json`).
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
      <div className="auth-card">
        <div className="auth-brand">
          <Logo />
          <span>Kiln</span>
        </div>
        <PasswordForm next={next} />
        <details className="token-sign-in">
          <summary>Use an access token</summary>
          <form onSubmit={onSubmit}>
            <p className="muted">
              <code>pnpm dev</code> writes one to <code>.kiln/dev.json</code> and prints a link that
              signs you in directly.
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
            <button type="submit" className="button button-ghost button-block" disabled={busy}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </form>
        </details>
      </div>
    </div>
  );
}

/** Email + password: sign in, or create an account. */
function PasswordForm({ next }: { next: string }) {
  const [mode, setMode] = useState<'sign-in' | 'sign-up'>('sign-in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [github, setGithub] = useState(false);
  const navigate = useNavigate();

  useEffect(() => {
    fetchAuthMethods().then(
      (methods) => setGithub(methods.github),
      () => setGithub(false), // the password form works without knowing
    );
  }, []);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signInWithPassword(mode, {
        email: email.trim(),
        password,
        ...(mode === 'sign-up' ? { name: name.trim() || email.trim() } : {}),
      });
      void navigate(next, { replace: true });
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? 'Wrong email or password.'
          : caught instanceof Error
            ? caught.message
            : 'Sign-in failed.',
      );
      setBusy(false);
    }
  }

  return (
    <form onSubmit={onSubmit} data-testid="password-form">
      <h1>{mode === 'sign-in' ? 'Sign in' : 'Create your account'}</h1>
      {mode === 'sign-up' && (
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" />
        </label>
      )}
      <label className="field">
        <span>Email</span>
        <input
          type="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          autoComplete="email"
          required
        />
      </label>
      <label className="field">
        <span>Password</span>
        <input
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete={mode === 'sign-in' ? 'current-password' : 'new-password'}
          minLength={8}
          required
        />
      </label>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="button button-primary button-block" disabled={busy}>
        {mode === 'sign-in' ? 'Sign in with email' : 'Create account'}
      </button>
      {github && (
        <a
          className="button button-ghost button-block"
          href={`/api/auth/sign-in/social?provider=github&callbackURL=${encodeURIComponent(next)}`}
        >
          Continue with GitHub
        </a>
      )}
      <p className="muted">
        {mode === 'sign-in' ? 'New to Kiln? ' : 'Have an account? '}
        <button
          type="button"
          className="button button-ghost button-small"
          onClick={() => setMode(mode === 'sign-in' ? 'sign-up' : 'sign-in')}
        >
          {mode === 'sign-in' ? 'Create an account' : 'Sign in'}
        </button>
      </p>
    </form>
  );
}

function signInError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return 'That token was not accepted.';
    return error.message;
  }
  return 'Sign-in failed.';
}
