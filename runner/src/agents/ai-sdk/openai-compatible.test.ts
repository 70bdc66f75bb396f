import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTurn, tempWorkspace } from '../turn-harness';
import { AiSdkAgent } from './ai-sdk-agent';
import { selectModel } from './provider';

interface RecordedRequest {
  url: string;
  authorization: string | undefined;
  body: {
    model: string;
    stream: boolean;
    tools?: { function: { name: string } }[];
    messages: { role: string; tool_call_id?: string; content?: unknown }[];
  };
}

let ws: Awaited<ReturnType<typeof tempWorkspace>>;
let server: Server;
let baseUrl: string;
const requests: RecordedRequest[] = [];

const chunk = (delta: object, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'test-model',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const usageChunk = (prompt: number, completion: number) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'test-model',
  choices: [],
  usage: {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  },
});

/** What the fake server streams for the nth request: a tool call, then a closing text. */
const responses = [
  [
    chunk({
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          index: 0,
          id: 'call_1',
          type: 'function',
          function: { name: 'write_file', arguments: '' },
        },
      ],
    }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"path":"hello.txt",' } }] }),
    chunk({
      tool_calls: [{ index: 0, function: { arguments: '"content":"hi from the model"}' } }],
    }),
    chunk({}, 'tool_calls'),
    usageChunk(50, 12),
  ],
  [
    chunk({ role: 'assistant', content: 'Wrote ' }),
    chunk({ content: 'hello.txt.' }),
    chunk({}, 'stop'),
    usageChunk(80, 4),
  ],
];

async function bodyOf(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const part of request) text += String(part);
  return text;
}

beforeEach(async () => {
  ws = await tempWorkspace();
  requests.length = 0;
  server = createServer((request, response) => {
    void bodyOf(request).then((text) => {
      const body = JSON.parse(text) as RecordedRequest['body'];
      requests.push({ url: request.url ?? '', authorization: request.headers.authorization, body });
      const chunks = responses[requests.length - 1];
      if (request.url !== '/v1/chat/completions' || !chunks) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const c of chunks) response.write(`data: ${JSON.stringify(c)}\n\n`);
      response.end('data: [DONE]\n\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterEach(async () => {
  server.close();
  await ws.dispose();
});

describe('ai-sdk agent against an OpenAI-compatible server', () => {
  it('streams a real chat-completions SSE tool call end to end through OPENAI_BASE_URL', async () => {
    const env = { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: baseUrl, KILN_MODEL: 'test-model' };
    expect(selectModel(env).provider).toBe('openai-compatible');
    const { events, state } = await runTurn(new AiSdkAgent({ env }), {
      workspace: ws.root,
      prompt: 'Write hello.txt',
    });

    expect(await readFile(path.join(ws.root, 'hello.txt'), 'utf8')).toBe('hi from the model');
    expect(requests).toHaveLength(2);
    expect(requests[0]?.authorization).toBe('Bearer test-key');
    expect(requests[0]?.body).toMatchObject({ model: 'test-model', stream: true });
    expect(requests[0]?.body.tools?.map((t) => t.function.name).sort()).toEqual([
      'edit_file',
      'list_files',
      'read_file',
      'run_command',
      'todo_write',
      'write_file',
    ]);
    // The second request carries the tool result back under the model's call id.
    expect(requests[1]?.body.messages.find((m) => m.role === 'tool')).toMatchObject({
      tool_call_id: 'call_1',
    });

    expect(state.toolCalls).toMatchObject([
      { toolCallId: 'call_1', toolName: 'write_file', status: 'done', isError: false },
    ]);
    expect(state.toolCalls[0]?.input).toEqual({ path: 'hello.txt', content: 'hi from the model' });
    expect(state.messages.map((m) => m.text)).toEqual(['Wrote hello.txt.']);
    expect(events.filter((e) => e.type === 'usage')).toMatchObject([
      { inputTokens: 50, outputTokens: 12, model: 'test-model' },
      { inputTokens: 80, outputTokens: 4, model: 'test-model' },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'checkpoint', agent: 'ai-sdk' });
  });

  it('refuses to start without a provider key, saying which variables to set', () => {
    expect(() => selectModel({})).toThrow(/ANTHROPIC_API_KEY.*OPENAI_API_KEY/);
    expect(selectModel({ ANTHROPIC_API_KEY: 'k' })).toMatchObject({
      provider: 'anthropic',
      modelId: 'claude-sonnet-4-5',
    });
    expect(selectModel({ OPENAI_API_KEY: 'k', KILN_MODEL: 'gpt-4.1' }, 'gpt-5')).toMatchObject({
      provider: 'openai',
      modelId: 'gpt-5',
    });
    // A local OpenAI-compatible server (Ollama) needs no key.
    expect(selectModel({ OPENAI_BASE_URL: 'http://localhost:11434/v1' })).toMatchObject({
      provider: 'openai-compatible',
      modelId: 'llama3.1',
    });
  });
});
