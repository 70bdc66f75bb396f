import type { SessionState } from '@kiln/protocol';
import { useState } from 'react';
import { useSessionState } from './use-session';

const selectPreview = (state: SessionState) => state.preview;

const STATUS_TEXT = {
  starting: 'Starting the preview…',
  ready: 'Live preview',
  error: 'The preview server reported an error.',
  stopped: 'The preview server has stopped.',
} as const;

/**
 * The runner's preview (`preview-updated`) in a sandboxed iframe, with reload and open-in-new-tab.
 * The sandbox allows scripts and forms but no top navigation or downloads; it keeps the preview's
 * own origin (so its storage works) only when that origin is not Kiln's: the page is the agent's
 * work and must never reach Kiln's cookies (DESIGN §8).
 */
export function PreviewPane() {
  const preview = useSessionState(selectPreview);
  const [reloads, setReloads] = useState(0);

  return (
    <section className="panel preview-pane" aria-labelledby="preview-heading">
      <header className="panel-header">
        <h2 id="preview-heading">Preview</h2>
        {preview && (
          <div className="panel-actions">
            <button
              type="button"
              className="button button-small button-ghost"
              onClick={() => setReloads((n) => n + 1)}
              aria-label="Reload the preview"
              disabled={preview.status !== 'ready'}
            >
              Reload
            </button>
            <a
              className="button button-small button-ghost"
              href={preview.url}
              target="_blank"
              rel="noopener noreferrer"
              aria-label="Open the preview in a new tab"
            >
              Open ↗
            </a>
          </div>
        )}
      </header>
      {!preview ? (
        <p className="muted empty">
          No preview yet. It appears here once the runner serves the app.
        </p>
      ) : (
        <>
          <p className={`preview-status preview-${preview.status}`} data-testid="preview-status">
            {STATUS_TEXT[preview.status]} · <code>{preview.url}</code>
          </p>
          {preview.status === 'ready' && (
            <iframe
              key={reloads}
              className="preview-frame"
              src={preview.url}
              title="Preview of the app the agent built"
              sandbox={sandboxFor(preview.url)}
              referrerPolicy="no-referrer"
              data-testid="preview-frame"
            />
          )}
        </>
      )}
    </section>
  );
}

/** Sandbox flags for a preview URL: its own origin only when that is not this page's origin. */
function sandboxFor(url: string, here: string = window.location.origin): string {
  const base = 'allow-scripts allow-forms allow-popups';
  try {
    return new URL(url, here).origin === here ? base : `${base} allow-same-origin`;
  } catch {
    return base;
  }
}
