import type { Todo } from '@kiln/protocol';
import { useVirtualizer } from '@tanstack/react-virtual';
import { type ReactNode, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { ToolCallRow } from './tool-call-row';
import { countCalls, type ToolCallNode, type ToolCallTree } from './tool-call-tree';

/** Above this many tool calls in the session the plan renders only the rows in view. */
export const VIRTUALIZE_TOOL_CALLS_AFTER = 300;

/** One row of the flattened plan: a todo, the "Other tool calls" heading, or a top-level call. */
export type PlanRow =
  | { kind: 'todo'; todo: Todo; index: number; calls: number }
  | { kind: 'other'; calls: number }
  | { kind: 'call'; node: ToolCallNode; key: string };

/**
 * The plan as one flat list, in the order the nested one shows it: each todo followed by its
 * top-level calls, then "Other tool calls" and theirs. A call's subagent calls stay inside its row.
 */
export function flattenPlan(todos: readonly Todo[], tree: ToolCallTree): PlanRow[] {
  const rows: PlanRow[] = [];
  const calls = (nodes: readonly ToolCallNode[]) => {
    for (const node of nodes) rows.push({ kind: 'call', node, key: node.call.toolCallId });
  };
  todos.forEach((todo, index) => {
    const nodes = tree.byTodo[index] ?? [];
    rows.push({ kind: 'todo', todo, index, calls: countCalls(nodes) });
    calls(nodes);
  });
  if (tree.other.length > 0) {
    rows.push({ kind: 'other', calls: countCalls(tree.other) });
    calls(tree.other);
  }
  return rows;
}

/**
 * The flattened plan, virtualised against the enclosing scroll pane (`[data-scroll-pane]`, the
 * activity column) as the message list is: only the rows in view, plus overscan, are in the DOM.
 */
export function VirtualPlan({
  rows,
  renderTodo,
}: {
  rows: readonly PlanRow[];
  renderTodo(todo: Todo, index: number, calls: number): ReactNode;
}) {
  const listRef = useRef<HTMLDivElement>(null);
  const [pane, setPane] = useState<HTMLElement | null>(null);
  useLayoutEffect(() => {
    setPane(listRef.current?.closest<HTMLElement>('[data-scroll-pane]') ?? null);
  }, []);
  const keys = useMemo(
    () => rows.map((row, i) => (row.kind === 'call' ? row.key : `${row.kind}-${i}`)),
    [rows],
  );
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => pane,
    estimateSize: () => 34,
    overscan: 12,
    scrollMargin: listRef.current?.offsetTop ?? 0,
    getItemKey: (i) => keys[i] ?? i,
  });
  const items = virtualizer.getVirtualItems();
  const offset = (items[0]?.start ?? 0) - virtualizer.options.scrollMargin;
  return (
    <div
      className="plan-virtual"
      ref={listRef}
      style={{ height: virtualizer.getTotalSize(), position: 'relative' }}
      data-virtualized="true"
    >
      <div style={{ transform: `translateY(${offset}px)` }}>
        {items.map((item) => {
          const row = rows[item.index] as PlanRow;
          return (
            <div key={item.key} data-index={item.index} ref={virtualizer.measureElement}>
              {row.kind === 'todo' ? (
                renderTodo(row.todo, row.index, row.calls)
              ) : row.kind === 'other' ? (
                <h3 className="plan-other-heading">
                  Other tool calls <span className="count">{row.calls}</span>
                </h3>
              ) : (
                <ul className="tool-call-list plan-virtual-calls">
                  <ToolCallRow node={row.node} />
                </ul>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
