import { type DragEvent, useState } from 'react';
import { Link } from 'react-router';
import { type ImportResult, importRecording } from '../lib/import-recording';

type ImportStatus =
  | { kind: 'idle' }
  | { kind: 'importing'; name: string }
  | { kind: 'done'; name: string; result: ImportResult }
  | { kind: 'failed'; message: string };

/**
 * Drop a recording (Claude Code transcript or stream-json, Codex rollout or `exec --json`,
 * OpenHands trajectory) on the project page to import it as a session, as `kiln import` does;
 * dropping it again adds only what is new. `importer` is replaceable for tests.
 */
export function ImportDrop({
  projectId,
  importer = importRecording,
}: {
  projectId: string;
  importer?: (file: File, projectId: string) => Promise<ImportResult>;
}) {
  const [status, setStatus] = useState<ImportStatus>({ kind: 'idle' });
  const [over, setOver] = useState(false);

  const importFile = async (file: File) => {
    setStatus({ kind: 'importing', name: file.name });
    try {
      setStatus({ kind: 'done', name: file.name, result: await importer(file, projectId) });
    } catch (error) {
      setStatus({
        kind: 'failed',
        message: error instanceof Error ? error.message : String(error),
      });
    }
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const file = event.dataTransfer.files[0];
    if (file) void importFile(file);
  };

  return (
    <section
      className={`card import-drop${over ? ' import-drop-over' : ''}`}
      aria-label="Import a recording"
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <h2>Import a recording</h2>
      <p>
        Drop a Claude Code, Codex or OpenHands recording here, or{' '}
        <label className="link-button">
          choose a file
          <input
            type="file"
            accept=".jsonl,.json"
            hidden
            onChange={(event) => {
              const file = event.currentTarget.files?.[0];
              if (file) void importFile(file);
              event.currentTarget.value = '';
            }}
          />
        </label>
        .
      </p>
      <p aria-live="polite" data-import-status={status.kind}>
        {status.kind === 'importing' && `Importing ${status.name}…`}
        {status.kind === 'done' && (
          <>
            <Link to={`/projects/${projectId}/s/${status.result.sessionId}`}>
              {status.result.title}
            </Link>
            {status.result.newEvents === 0
              ? ' — already imported, nothing new.'
              : ` — ${status.result.newEvents} events, ${status.result.toolCalls} tool calls imported.`}
            {status.result.badLines > 0 && ` ${status.result.badLines} unreadable line(s) skipped.`}
          </>
        )}
      </p>
      {status.kind === 'failed' && (
        <p className="form-error" role="alert">
          {status.message}
        </p>
      )}
    </section>
  );
}
