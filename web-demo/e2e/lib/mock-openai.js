// A scripted OpenAI-compatible model provider: a real HTTP server that streams
// `chat.completion.chunk` Server-Sent Events as the API does, so a test decides exactly what a
// "model" answers (Markdown, hostile HTML) and the server under test treats it as any model's.

import http from 'node:http';

const chunk = (delta, finishReason = null) => ({
  id: 'chatcmpl-e2e',
  object: 'chat.completion.chunk',
  created: 1_790_000_000,
  model: 'mock-model',
  choices: [{ index: 0, delta, finish_reason: finishReason }],
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class MockOpenAi {
  constructor() {
    this.answers = new Map(); // the user's last message → the answer's text
    this.pieceChars = 7;
    this.pieceDelayMs = 40;
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  /** Starts on a free port of 127.0.0.1; resolves with the base URL for `OPENAI_BASE_URL`. */
  listen() {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        this.url = `http://127.0.0.1:${this.server.address().port}/v1`;
        resolve(this.url);
      });
    });
  }

  /**
   * Answers `text` whenever the user's newest message is `prompt`, streamed in pieces of a few
   * characters (so tags and fences arrive cut in two, as tokens do).
   */
  answer(prompt, text) {
    this.answers.set(prompt, text);
  }

  async handle(req, res) {
    const body = await new Promise((resolve) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => resolve(data));
    });
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'mock: no such route', type: 'not_found' } }));
      return;
    }
    const request = JSON.parse(body);
    const last = request.messages.filter((m) => m.role === 'user').pop();
    const text = this.answers.get(last?.content);
    if (text === undefined) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'mock: no scripted answer', type: 'server_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (value) => res.write(`data: ${JSON.stringify(value)}\n\n`);
    send(chunk({ role: 'assistant', content: '' }));
    const chars = [...text];
    for (let i = 0; i < chars.length; i += this.pieceChars) {
      await sleep(this.pieceDelayMs);
      send(chunk({ content: chars.slice(i, i + this.pieceChars).join('') }));
    }
    send(chunk({}, 'stop'));
    send({ ...chunk({}), choices: [], usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 } });
    res.end('data: [DONE]\n\n');
  }

  close() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
