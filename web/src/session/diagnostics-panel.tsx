import type { SessionState } from '@kiln/protocol';
import { useSessionState } from './use-session';

const selectDiagnostics = (state: SessionState) => state.diagnostics;

/** The latest build errors the auto-fix loop found; nothing when the build is clean. */
export function DiagnosticsPanel() {
  const diagnostics = useSessionState(selectDiagnostics);
  if (!diagnostics || diagnostics.errors.length === 0) return null;
  return (
    <section
      className="panel panel-error"
      aria-labelledby="diagnostics-heading"
      data-testid="diagnostics"
    >
      <header className="panel-header">
        <h2 id="diagnostics-heading">Build errors</h2>
        <span className="muted">{diagnostics.source}</span>
      </header>
      <ul className="diagnostics">
        {diagnostics.errors.map((error, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the list is replaced whole, never edited
          <li key={i} className="diagnostic">
            {error.file && (
              <code className="diagnostic-location">
                {error.file}
                {error.line !== undefined ? `:${error.line}` : ''}
              </code>
            )}
            <span>{error.message}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
