/**
 * A recorded agent run: one JSON value per line (JSON Lines). Reading it is the boundary where
 * bytes become values; each mapper then validates the lines it understands with zod.
 */

/** One parsed line of a recording. */
export interface RecordedLine {
  /** 1-based line number in the file. */
  lineNumber: number;
  /** The parsed JSON value, not yet validated. */
  value: unknown;
  /** The line's own timestamp (ms since the epoch) when it carries an ISO `timestamp` field. */
  at?: number;
}

/** The lines of a recording, and how many non-blank lines were not JSON. */
export interface Recording {
  lines: RecordedLine[];
  invalidLines: number;
}

/**
 * Splits JSON Lines text into parsed lines; blank lines are skipped, unparsable ones counted. A
 * file that is one JSON array (an OpenHands trajectory) gives one line per element, numbered from 1.
 */
export function parseRecording(text: string): Recording {
  const array = parseArray(text);
  if (array) {
    return {
      lines: array.map((value, i) => {
        const at = lineTimestamp(value);
        return at === undefined ? { lineNumber: i + 1, value } : { lineNumber: i + 1, value, at };
      }),
      invalidLines: 0,
    };
  }
  const lines: RecordedLine[] = [];
  let invalidLines = 0;
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!.trim();
    if (!row) continue;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch {
      // A cut-off last line is normal for a run that was killed; the caller reports the count.
      invalidLines++;
      continue;
    }
    const at = lineTimestamp(value);
    lines.push(at === undefined ? { lineNumber: i + 1, value } : { lineNumber: i + 1, value, at });
  }
  return { lines, invalidLines };
}

/**
 * The ms epoch of a line's ISO `timestamp` field, if it has a valid one. A timestamp without a
 * zone (OpenHands writes Python's naive `isoformat()`) is read as UTC, so the result does not
 * depend on the machine's time zone.
 */
export function lineTimestamp(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null || !('timestamp' in value)) return undefined;
  const raw = value.timestamp;
  if (typeof raw !== 'string') return undefined;
  const zoned = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(raw) ? `${raw}Z` : raw;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The elements of a file that is a single JSON array, else undefined. */
function parseArray(text: string): unknown[] | undefined {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return Array.isArray(value) ? value : undefined;
  } catch {
    // Not one JSON document: read it as JSON Lines.
    return undefined;
  }
}
