import type { SessionState, Todo } from '@kiln/protocol';
import { memo, useMemo } from 'react';
import { ToolCallRow } from './tool-call-row';
import { countCalls, groupToolCalls, sameNodes, type ToolCallNode } from './tool-call-tree';
import { useSessionState } from './use-session';
import { flattenPlan, VIRTUALIZE_TOOL_CALLS_AFTER, VirtualPlan } from './virtual-plan';

const selectTodos = (state: SessionState) => state.todos;
const selectToolCalls = (state: SessionState) => state.toolCalls;

/**
 * The main agent's todo list with progress, each todo's tool calls nested under it, and the calls
 * made outside any todo in "Other tool calls". Past `VIRTUALIZE_TOOL_CALLS_AFTER` calls the same
 * rows are flattened and virtualised, so a session with thousands of calls keeps a small DOM.
 */
export function TodoPanel() {
  const todos = useSessionState(selectTodos);
  const toolCalls = useSessionState(selectToolCalls);
  const tree = useMemo(() => groupToolCalls(toolCalls, todos.length), [toolCalls, todos.length]);
  const done = todos.filter((t) => t.status === 'completed').length;
  const virtual = toolCalls.length > VIRTUALIZE_TOOL_CALLS_AFTER;
  const rows = useMemo(() => (virtual ? flattenPlan(todos, tree) : []), [virtual, todos, tree]);

  return (
    <div className="todo-panel">
      <section className="panel" aria-labelledby="plan-heading">
        <header className="panel-header">
          <h2 id="plan-heading">Plan</h2>
          {todos.length > 0 && (
            <span className="progress-label" data-testid="todo-progress">
              {done}/{todos.length} done
            </span>
          )}
        </header>
        {virtual ? (
          <>
            {todos.length > 0 && <Progress done={done} total={todos.length} />}
            <VirtualPlan
              rows={rows}
              renderTodo={(todo, index, calls) => (
                <div
                  className={`todo todo-${todo.status}`}
                  data-testid="todo"
                  data-status={todo.status}
                >
                  <TodoHead todo={todo} index={index} calls={calls} />
                </div>
              )}
            />
          </>
        ) : todos.length > 0 ? (
          <>
            <Progress done={done} total={todos.length} />
            <ol className="todo-list">
              {todos.map((todo, index) => (
                <TodoItem
                  // A todo's position is its identity: tool calls refer to it by index.
                  // biome-ignore lint/suspicious/noArrayIndexKey: see above
                  key={index}
                  todo={todo}
                  index={index}
                  nodes={tree.byTodo[index] ?? []}
                />
              ))}
            </ol>
          </>
        ) : (
          <p className="muted empty">No plan yet. The agent's todo list will appear here.</p>
        )}
      </section>
      {!virtual && tree.other.length > 0 && (
        <section className="panel" aria-labelledby="other-calls-heading">
          <header className="panel-header">
            <h2 id="other-calls-heading">Other tool calls</h2>
            <span className="count">{countCalls(tree.other)}</span>
          </header>
          <ToolCallList nodes={tree.other} />
        </section>
      )}
    </div>
  );
}

interface TodoItemProps {
  todo: Todo;
  index: number;
  nodes: ToolCallNode[];
}

/** One todo with its tool calls; memoised on the todo and its calls' identities. */
const TodoItem = memo(function TodoItem({ todo, index, nodes }: TodoItemProps) {
  return (
    <li className={`todo todo-${todo.status}`} data-testid="todo" data-status={todo.status}>
      <TodoHead todo={todo} index={index} calls={countCalls(nodes)} />
      {nodes.length > 0 && <ToolCallList nodes={nodes} />}
    </li>
  );
}, todoItemEqual);

function TodoHead({ todo, index, calls }: { todo: Todo; index: number; calls: number }) {
  return (
    <div className="todo-head">
      <TodoCheck status={todo.status} />
      <span className="todo-text">
        <span className="todo-index">{index + 1}.</span>{' '}
        {todo.status === 'in_progress' ? todo.activeForm || todo.content : todo.content}
      </span>
      {calls > 0 && (
        <span className="count" title={`${calls} tool call${calls === 1 ? '' : 's'}`}>
          {calls}
        </span>
      )}
    </div>
  );
}

function Progress({ done, total }: { done: number; total: number }) {
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label="Todos done"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
    >
      <div className="progress-fill" style={{ width: `${(done / total) * 100}%` }} />
    </div>
  );
}

function todoItemEqual(a: TodoItemProps, b: TodoItemProps): boolean {
  return a.todo === b.todo && a.index === b.index && sameNodes(a.nodes, b.nodes);
}

function ToolCallList({ nodes }: { nodes: ToolCallNode[] }) {
  return (
    <ul className="tool-call-list">
      {nodes.map((node) => (
        <ToolCallRow key={node.call.toolCallId} node={node} />
      ))}
    </ul>
  );
}

function TodoCheck({ status }: { status: Todo['status'] }) {
  const label = { pending: 'pending', in_progress: 'in progress', completed: 'completed' }[status];
  return <span className={`todo-check todo-check-${status}`} role="img" aria-label={label} />;
}
