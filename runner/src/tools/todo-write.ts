import { todo } from '@kiln/protocol';
import { z } from 'zod';
import { defineTool } from './tool';

/**
 * `todo_write`: replaces the agent's todo list. The call itself only validates; `runTool` turns its
 * output into the `todos-updated` event.
 */
export const todoWriteTool = defineTool({
  name: 'todo_write',
  description:
    'Replace your todo list for this task. Send the whole list every time; keep exactly one todo in_progress while you work, and mark todos completed as soon as they are done.',
  inputSchema: z.object({
    todos: z
      .array(todo)
      .max(50)
      .describe('The full list: {content, activeForm (present continuous), status}'),
  }),
  async execute({ todos }) {
    return { todos };
  },
  events: ({ todos }) => [{ type: 'todos-updated', todos }],
});
