import {
  applyEvents,
  createSessionState,
  type EventBody,
  type SessionEvent,
  type SessionState,
} from '@kiln/protocol';

/** Test helper: numbers event bodies as the SessionDO would (seq from `firstSeq`, 1 s apart). */
export function committed(bodies: readonly EventBody[], firstSeq = 1): SessionEvent[] {
  return bodies.map((body, i) => ({
    ...body,
    seq: firstSeq + i,
    at: 1_700_000_000_000 + (firstSeq + i) * 1000,
  }));
}

/** Test helper: the state the shared reducer builds from these event bodies. */
export function stateFrom(bodies: readonly EventBody[], sessionId = 's1'): SessionState {
  return applyEvents(createSessionState(sessionId, 'p1'), committed(bodies));
}

/** Test helper: a small session — a prompt, a turn, a todo list and tool calls under todo 2. */
export function sampleBodies(): EventBody[] {
  return [
    {
      type: 'user-message',
      messageId: 'u1',
      clientMessageId: 'c1',
      text: 'Build a landing page',
      authorId: 'me',
    },
    {
      type: 'turn-started',
      turnId: 't1',
      buildId: 'b1',
      runnerId: 'r1',
      agent: 'demo',
      model: 'demo-1',
    },
    { type: 'message-start', messageId: 'a1', role: 'assistant' },
    { type: 'text-delta', messageId: 'a1', delta: 'I will **plan** first.' },
    {
      type: 'todos-updated',
      todos: [
        { content: 'Plan the page', activeForm: 'Planning the page', status: 'completed' },
        { content: 'Write the HTML', activeForm: 'Writing the HTML', status: 'in_progress' },
        { content: 'Run the build', activeForm: 'Running the build', status: 'pending' },
      ],
    },
    {
      type: 'tool-input-available',
      toolCallId: 'tc1',
      toolName: 'Write',
      input: { file_path: 'index.html', content: '<h1>Hi</h1>' },
    },
    {
      type: 'tool-output-available',
      toolCallId: 'tc1',
      output: 'File written',
      isError: false,
      truncated: false,
      durationMs: 120,
    },
    {
      type: 'tool-input-available',
      toolCallId: 'task1',
      toolName: 'Task',
      input: { description: 'Review the HTML' },
    },
    {
      type: 'tool-input-available',
      toolCallId: 'sub1',
      toolName: 'Read',
      input: { file_path: 'index.html' },
      parentToolCallId: 'task1',
    },
    {
      type: 'tool-output-available',
      toolCallId: 'sub1',
      output: 'x'.repeat(50),
      isError: false,
      truncated: true,
      durationMs: 30,
    },
    {
      type: 'tool-output-available',
      toolCallId: 'task1',
      output: { ok: true },
      isError: false,
      truncated: false,
      durationMs: 900,
    },
    {
      type: 'tool-input-available',
      toolCallId: 'bash1',
      toolName: 'Bash',
      input: { command: 'npm run build' },
    },
    {
      type: 'tool-output-available',
      toolCallId: 'bash1',
      output: 'error: missing script build',
      isError: true,
      truncated: false,
      durationMs: 2500,
    },
  ];
}
