import { memo, useId, useState } from 'react';
import { formatDuration } from '../lib/format';
import { sameNode, type ToolCallNode } from './tool-call-tree';
import { displayStatus, displayValue, summarizeInput } from './tool-summary';

/**
 * One tool call: name, a one-line summary of its input, status and duration; expands to show the
 * full input and output. Subagent calls it spawned are nested below it.
 *
 * Memoised on the identity of its call and of its descendants' calls: the reducer replaces only
 * the call an event touches, so a streaming session re-renders only that row.
 */
export const ToolCallRow = memo(function ToolCallRow({ node }: { node: ToolCallNode }) {
  const { call, children } = node;
  const [expanded, setExpanded] = useState(false);
  const detailId = useId();
  const status = displayStatus(call);
  const summary = summarizeInput(call.input);

  return (
    <li
      className="tool-call"
      data-testid="tool-call"
      data-status={status}
      data-tool-call-id={call.toolCallId}
    >
      <button
        type="button"
        className="tool-call-head"
        aria-expanded={expanded}
        aria-controls={detailId}
        onClick={() => setExpanded((open) => !open)}
      >
        <StatusIcon status={status} />
        <span className="tool-call-name">{call.toolName}</span>
        <span className="tool-call-summary" title={summary}>
          {summary}
        </span>
        {call.truncated && <span className="tag tag-warn">truncated</span>}
        {status !== 'done' && <span className={`tag tag-${status}`}>{status}</span>}
        <span className="tool-call-duration">
          {call.durationMs === undefined ? '' : formatDuration(call.durationMs)}
        </span>
        <Chevron />
      </button>
      {expanded && (
        <div className="tool-call-detail" id={detailId}>
          <section>
            <h4>Input</h4>
            <pre className="code">{displayValue(call.input)}</pre>
          </section>
          <section>
            <h4>
              Output
              {status === 'error' && <span className="tag tag-error">error</span>}
              {call.truncated && (
                <span className="tag tag-warn" title="The output was cut at the 32 KiB limit">
                  truncated
                </span>
              )}
            </h4>
            {call.output === undefined ? (
              <p className="muted">
                {status === 'abandoned'
                  ? 'No output: the turn ended first.'
                  : 'Waiting for output…'}
              </p>
            ) : (
              <pre className={status === 'error' ? 'code code-error' : 'code'}>
                {displayValue(call.output)}
                {call.truncated && <span className="truncated-mark">{'\n'}… output truncated</span>}
              </pre>
            )}
          </section>
        </div>
      )}
      {children.length > 0 && (
        <ul className="tool-call-children" aria-label={`Calls made by ${call.toolName}`}>
          {children.map((child) => (
            <ToolCallRow key={child.call.toolCallId} node={child} />
          ))}
        </ul>
      )}
    </li>
  );
}, propsEqual);

function propsEqual(a: { node: ToolCallNode }, b: { node: ToolCallNode }): boolean {
  return sameNode(a.node, b.node);
}

function StatusIcon({ status }: { status: ReturnType<typeof displayStatus> }) {
  return <span className={`status-icon status-icon-${status}`} role="img" aria-label={status} />;
}

function Chevron() {
  return (
    <svg className="chevron" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path d="M6 4l4 4-4 4" fill="none" stroke="currentColor" strokeWidth="1.6" />
    </svg>
  );
}
