import { Link } from 'react-router';

/** Any path the app does not know. */
export function NotFoundPage() {
  return (
    <div className="page-center">
      <p className="big-code">404</p>
      <h1>Page not found</h1>
      <p className="muted">There is nothing at this address.</p>
      <Link className="button" to="/">
        Go home
      </Link>
    </div>
  );
}
