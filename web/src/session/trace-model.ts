import type { TraceSpan, TracesPage, TraceTurn } from '@kiln/protocol';

/** One bar of the waterfall, positioned on the session's time axis. */
export interface TraceBar {
  span: TraceSpan;
  /** ms from the trace's start. */
  offset: number;
  duration: number;
  depth: number;
  label: string;
}

interface TraceLane {
  turn: TraceTurn;
  number: number;
  offset: number;
  duration: number;
  bars: TraceBar[];
}

export interface TraceModel {
  start: number;
  /** The axis length, ms (at least 1). */
  total: number;
  lanes: TraceLane[];
}

/**
 * Lays out the spans of every page fetched so far: one lane per turn, steps and tool calls on a
 * shared time axis. A step (an assistant message) lasts until the next span of its turn starts,
 * or its turn ends; a running call lasts until `now`.
 */
export function buildTraceModel(pages: readonly TracesPage[], now: number): TraceModel {
  const last = pages[pages.length - 1];
  const turns = last?.turns ?? [];
  const spans = pages.flatMap((p) => p.spans);
  const start = Math.min(
    ...turns.map((t) => t.startedAt),
    ...spans.map((s) => s.startedAt),
    Number.POSITIVE_INFINITY,
  );
  if (!Number.isFinite(start)) return { start: now, total: 1, lanes: [] };

  const endOf = (span: TraceSpan, next: TraceSpan | undefined, turnEnd: number): number => {
    if (span.kind === 'tool-call') {
      if (span.finishedAt !== null) return span.finishedAt;
      return span.status === 'running' ? now : turnEnd;
    }
    return Math.max(span.startedAt, next?.startedAt ?? turnEnd);
  };
  const depthOf = (span: TraceSpan, byId: Map<string, TraceSpan>): number => {
    let depth = span.kind === 'tool-call' ? 1 : 0;
    let parent = span.kind === 'tool-call' ? span.parentToolCallId : null;
    while (parent && depth < 6) {
      depth++;
      const p = byId.get(parent);
      parent = p?.kind === 'tool-call' ? p.parentToolCallId : null;
    }
    return depth;
  };

  const byId = new Map(spans.map((s) => [s.id, s]));
  let end = start + 1;
  const lanes: TraceLane[] = turns.map((turn, i) => {
    const own = spans.filter((s) => s.turnId === turn.turnId);
    const turnEnd = Math.max(
      turn.finishedAt,
      ...own.map((s) => (s.kind === 'tool-call' ? (s.finishedAt ?? now) : s.startedAt)),
    );
    const steps = own.filter((s) => s.kind === 'step');
    const bars = own.map((span): TraceBar => {
      const nextStep = span.kind === 'step' ? steps[steps.indexOf(span) + 1] : undefined;
      const spanEnd = endOf(span, nextStep, turnEnd);
      end = Math.max(end, spanEnd);
      return {
        span,
        offset: span.startedAt - start,
        duration: Math.max(0, spanEnd - span.startedAt),
        depth: depthOf(span, byId),
        label: span.kind === 'step' ? 'Agent step' : span.toolName,
      };
    });
    end = Math.max(end, turnEnd);
    return {
      turn,
      number: i + 1,
      offset: turn.startedAt - start,
      duration: Math.max(0, turnEnd - turn.startedAt),
      bars,
    };
  });
  return { start, total: Math.max(1, end - start), lanes };
}
