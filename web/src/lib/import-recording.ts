import {
  type BuildLease,
  buildLease,
  type IngestEvent,
  ingestServerFrame,
  MAX_EVENTS_PER_FRAME,
  MAX_FRAME_BYTES,
  parseFrame,
} from '@kiln/protocol';
import { planImport, plannedModel, readImportFile } from '../../../runner/src/import/plan';
import { fitEvent } from '../../../runner/src/ingest/fit-event';
import { ApiError, apiFetch } from './api';

/** What importing one dropped file did. */
export interface ImportResult {
  sessionId: string;
  title: string;
  /** Events of the session, and how many this import added (0: it was imported before). */
  events: number;
  newEvents: number;
  toolCalls: number;
  /** Lines that were not JSON (skipped). */
  badLines: number;
}

/** A dropped file that cannot be imported, or an import the server refused. */
class ImportError extends Error {
  override name = 'ImportError';
}

/**
 * Imports a recording dropped on the project page: the same plan as `kiln import` (one file, one
 * session; PROTOCOL.md §7 "Importing"), leased as the session's import build with the page's
 * cookie, sent over the ingest socket from the seq the server has, and resolved once everything
 * is acknowledged. Errors: `ImportError` (unknown format, refused frame, socket lost), `ApiError`.
 */
export async function importRecording(file: File, projectId: string): Promise<ImportResult> {
  const read = readImportFile({ path: file.name, text: await file.text() });
  if ('error' in read) throw new ImportError(`${file.name}: ${read.error}`);
  const plan = planImport([read], projectId, (sessionId) => `${sessionId}:import`);
  const response = await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/sessions/${plan.sessionId}/builds`,
    {
      method: 'POST',
      body: JSON.stringify({ agent: plan.format, model: plannedModel(plan), import: true }),
    },
  );
  const lease = buildLease.safeParse(await response.json());
  if (!lease.success) throw new ApiError(response.status, 'bad-response', 'Unexpected lease.');
  const acked = lease.data.ackedProducerSeq;
  const result = {
    sessionId: plan.sessionId,
    title: plan.title,
    events: plan.events.length,
    newEvents: Math.max(0, plan.events.length - acked),
    toolCalls: plan.toolCalls,
    badLines: plan.badLines,
  };
  if (acked < plan.events.length) await sendEvents(lease.data, plan.events.map(fitEvent));
  return result;
}

/**
 * One producer connection: `hello`, then frames from `ready.ackedProducerSeq + 1`, one at a
 * time, each sent after the previous one's ack. A one-shot import needs no resume: if the socket
 * drops, dropping the file again continues where the server stopped.
 */
function sendEvents(lease: BuildLease, events: readonly IngestEvent[]): Promise<void> {
  const protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${protocol}//${window.location.host}${lease.ingestPath}`);
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    const fail = (message: string) => {
      reject(new ImportError(message));
      ws.close();
    };
    const sendFrom = (ackedSeq: number) => {
      next = ackedSeq;
      if (next >= events.length) {
        resolve();
        ws.close(1000);
        return;
      }
      const frame = framed(events, next);
      ws.send(frame.text);
    };
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ type: 'hello', buildId: lease.buildId, producerEpoch: 0 }));
    });
    ws.addEventListener('message', (message) => {
      const parsed = parseFrame(ingestServerFrame, String(message.data));
      if (!parsed.ok) return fail('The server sent a frame Kiln does not know.');
      const frame = parsed.frame;
      if (frame.type === 'ready') sendFrom(frame.ackedProducerSeq);
      else if (frame.type === 'ack' && frame.producerSeq > next) sendFrom(frame.producerSeq);
      else if (frame.type === 'error') fail(frame.message);
    });
    ws.addEventListener('close', () => fail('The connection closed before the import finished.'));
  });
}

/** The next `events` frame from index `start` (producer seq `start + 1`), within the limits. */
function framed(events: readonly IngestEvent[], start: number): { text: string } {
  const parts: string[] = [];
  let bytes = 100;
  for (let i = start; i < events.length && parts.length < MAX_EVENTS_PER_FRAME; i++) {
    const json = JSON.stringify(events[i]);
    // UTF-8 is at most 3 bytes per UTF-16 unit: stay clearly under the frame limit.
    if (parts.length > 0 && bytes + json.length * 3 >= MAX_FRAME_BYTES) break;
    parts.push(json);
    bytes += json.length * 3 + 1;
  }
  return {
    text: `{"type":"events","firstProducerSeq":${start + 1},"events":[${parts.join(',')}]}`,
  };
}
