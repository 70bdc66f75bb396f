import type { ToolCallState } from '@kiln/protocol';

/** A tool call with the subagent calls it spawned. */
export interface ToolCallNode {
  call: ToolCallState;
  children: ToolCallNode[];
}

/** Tool calls grouped as the session page shows them. Every call appears exactly once. */
export interface ToolCallTree {
  /** Top-level calls made while todo i was in progress, for each todo index. */
  byTodo: ToolCallNode[][];
  /** Top-level calls with no todo (or one the current list no longer has). */
  other: ToolCallNode[];
}

/**
 * Groups calls under the todo that was in progress when they started (`todoIndex`), and subagent
 * calls under their parent call (`parentToolCallId`). A call whose parent is unknown is top-level,
 * so no call is ever hidden.
 */
export function groupToolCalls(calls: readonly ToolCallState[], todoCount: number): ToolCallTree {
  const nodes = new Map<string, ToolCallNode>();
  for (const call of calls) nodes.set(call.toolCallId, { call, children: [] });
  const tree: ToolCallTree = { byTodo: Array.from({ length: todoCount }, () => []), other: [] };
  for (const call of calls) {
    const node = nodes.get(call.toolCallId)!;
    const parentId = call.parentToolCallId;
    const parent = parentId && parentId !== call.toolCallId ? nodes.get(parentId) : undefined;
    if (parent) {
      parent.children.push(node);
      continue;
    }
    const index = call.todoIndex;
    const group = index === undefined ? undefined : tree.byTodo[index];
    (group ?? tree.other).push(node);
  }
  return tree;
}

/** Two nodes show the same thing when their calls and their children's calls are identical. */
export function sameNode(a: ToolCallNode, b: ToolCallNode): boolean {
  return a.call === b.call && sameNodes(a.children, b.children);
}

/** Element-wise `sameNode`. */
export function sameNodes(a: readonly ToolCallNode[], b: readonly ToolCallNode[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameNode(a[i]!, b[i]!)) return false;
  return true;
}

/** Number of calls in these nodes and all their descendants. */
export function countCalls(nodes: readonly ToolCallNode[]): number {
  let n = 0;
  for (const node of nodes) n += 1 + countCalls(node.children);
  return n;
}
