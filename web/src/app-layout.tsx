import { useEffect, useState } from 'react';
import { Link, NavLink, Outlet, useNavigate } from 'react-router';
import { fetchMe, isUnauthorized, type Me, signOut } from './lib/api';
import { useSignInRedirect } from './lib/use-sign-in-redirect';

/**
 * The frame of every signed-in page: top bar with the person and "Sign out". Checks the sign-in
 * while the page loads (pages fetch in parallel); a 401 sends the person to sign in.
 */
export function AppLayout() {
  const [me, setMe] = useState<Me | null>(null);
  const redirectToSignIn = useSignInRedirect();
  const navigate = useNavigate();

  useEffect(() => {
    const abort = new AbortController();
    fetchMe(abort.signal).then(setMe, (error: unknown) => {
      if (abort.signal.aborted) return;
      if (isUnauthorized(error)) redirectToSignIn();
      // Other failures (server down) leave the top bar without a name; the page says what failed.
      else console.warn('kiln: could not load /api/me', error);
    });
    return () => abort.abort();
  }, [redirectToSignIn]);

  async function onSignOut() {
    try {
      await signOut();
    } catch (error) {
      // Signing out of a server we cannot reach still leaves this page; the cookie expires anyway.
      console.warn('kiln: sign-out failed', error);
    }
    void navigate('/sign-in', { replace: true });
  }

  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Kiln home">
          <Logo />
          <span>Kiln</span>
        </Link>
        <nav className="topbar-nav" aria-label="Main">
          <NavLink to="/" end>
            Projects
          </NavLink>
          <NavLink to="/runners">Runners</NavLink>
          <NavLink to="/settings">Settings</NavLink>
        </nav>
        <div className="topbar-right">
          <ThemeToggle />
          {me && (
            <span className="me" title={me.email}>
              {me.name || me.email}
            </span>
          )}
          <button type="button" className="button button-ghost button-small" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main className="main">
        <Outlet />
      </main>
    </div>
  );
}

/** Light / dark / system theme, kept in localStorage and applied as `data-theme` on <html>. */
function ThemeToggle() {
  const [theme, setTheme] = useState<'system' | 'light' | 'dark'>(() => {
    const saved = localStorage.getItem('kiln-theme');
    return saved === 'light' || saved === 'dark' ? saved : 'system';
  });
  useEffect(() => {
    if (theme === 'system') {
      document.documentElement.removeAttribute('data-theme');
      localStorage.removeItem('kiln-theme');
    } else {
      document.documentElement.setAttribute('data-theme', theme);
      localStorage.setItem('kiln-theme', theme);
    }
  }, [theme]);
  const next = theme === 'system' ? 'dark' : theme === 'dark' ? 'light' : 'system';
  return (
    <button
      type="button"
      className="button button-ghost button-small"
      onClick={() => setTheme(next)}
      aria-label={`Theme: ${theme}. Switch to ${next}`}
      title={`Theme: ${theme}`}
    >
      {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'}
    </button>
  );
}

/** The Kiln mark. */
export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
      <rect width="32" height="32" rx="8" fill="var(--accent)" />
      <path d="M9 23V9h3v6l6-6h4l-7 7 7 7h-4l-6-6v6z" fill="#fff" />
    </svg>
  );
}
