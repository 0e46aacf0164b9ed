// What the AI SDK suites share: tokens from the server, the SDK's own transports pointed at
// it (with a WebSocket that records what it sends and lets a test cut it), a chat driven by
// the SDK's AbstractChat (what useChat runs), and checks of every chunk against the SDK's
// schema.
import assert from 'node:assert/strict';

import {
  AbstractChat,
  DefaultChatTransport,
  WebSocketChatTransport,
  readUIMessageStream,
  uiMessageChunkSchema,
} from 'ai';
import WebSocket from 'ws';

/** The server under test (run.sh starts it). */
export const BASE = process.env.AGENTWIRE_URL;

/** A user name of this run: runs on one server never share a user. */
export function user(name) {
  return `${name}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A token for `user` from the development endpoint of the server at `base`. */
export async function tokenFor(user, base = BASE) {
  const r = await fetch(`${base}/api/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: user }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).token;
}

/** What one transport's sockets did: each socket made, each frame sent. */
export class Recorder {
  sockets = [];
  sent = [];

  /** A `ws` WebSocket class that records into this recorder. */
  webSocket() {
    const recorder = this;
    return class RecordingWebSocket extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols);
        recorder.sockets.push(this);
      }

      send(data, ...rest) {
        recorder.sent.push(JSON.parse(data));
        return super.send(data, ...rest);
      }
    };
  }

  /** Drops the newest socket as a network failure would: no close frame. */
  cut() {
    this.sockets.at(-1).terminate();
  }
}

/** The SDK's WebSocketChatTransport on `base`, the token in each frame's headers. */
export function wsTransport(token, { base = BASE, recorder = new Recorder() } = {}) {
  const transport = new WebSocketChatTransport({
    url: `${base.replace(/^http/, 'ws')}/api/ai-sdk/ws`,
    webSocket: recorder.webSocket(),
    headers: { Authorization: `Bearer ${token}` },
  });
  return { transport, recorder };
}

/** The SDK's DefaultChatTransport on `base`. */
export function httpTransport(token, base = BASE) {
  return new DefaultChatTransport({
    api: `${base}/api/ai-sdk`,
    headers: { Authorization: `Bearer ${token}` },
  });
}

/** A user UIMessage saying `text`. */
export function userMessage(text) {
  return { id: `u-${Math.random().toString(36).slice(2)}`, role: 'user', parts: [{ type: 'text', text }] };
}

/** A send of `text` to chat `chatId` through `transport`; resolves to the chunk stream. */
export function send(transport, chatId, text, abortSignal) {
  return transport.sendMessages({
    chatId,
    messages: [userMessage(text)],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal,
  });
}

/**
 * A chunk stream read a little at a time, each chunk checked against the schema. Stopping
 * does not cancel the stream (a cancel would send `abort`, which stops the turn).
 */
export class Reading {
  chunks = [];

  constructor(stream) {
    this.reader = stream.getReader();
  }

  /** Reads until `done(chunks)` holds or the stream ends; true when it held. */
  async until(done) {
    while (!done(this.chunks)) {
      const { value, done: over } = await this.reader.read();
      if (over) return false;
      await assertValidChunk(value);
      this.chunks.push(value);
    }
    return true;
  }

  /** Reads to the end. */
  async rest() {
    await this.until(() => false);
    return this.chunks;
  }

  /** The thread the turn's `start` chunk names. */
  thread() {
    return this.chunks.find((c) => c.type === 'start').messageMetadata.threadId;
  }

  text() {
    return this.chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta).join('');
  }
}

/** Checks a chunk against the SDK's `uiMessageChunkSchema`. */
export async function assertValidChunk(chunk) {
  const checked = await uiMessageChunkSchema().validate(chunk);
  assert.ok(checked.success, `not a UI message chunk: ${JSON.stringify(chunk)}`);
}

/**
 * Reads a chunk stream to its end: every chunk (each checked against the schema) and the
 * message `readUIMessageStream` assembles from them.
 */
export async function read(stream) {
  const chunks = [];
  const checked = stream.pipeThrough(
    new TransformStream({
      async transform(chunk, controller) {
        await assertValidChunk(chunk);
        chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  let message;
  let error;
  try {
    for await (const m of readUIMessageStream({ stream: checked, onError: (e) => { error = e; } })) {
      message = m;
    }
  } catch (e) {
    error = e;
  }
  return { chunks, message, error };
}

/** The text parts of a UIMessage, joined. */
export function textOf(message) {
  return (message?.parts ?? []).filter((p) => p.type === 'text').map((p) => p.text).join('');
}

/** How many text deltas `chunks` hold. */
export function deltas(chunks) {
  return chunks.filter((c) => c.type === 'text-delta').length;
}

/** The stored messages of `user`'s thread. */
export async function stored(token, user, thread, base = BASE) {
  const r = await fetch(`${base}/api/${user}/conversations/${thread}/messages`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(r.status, 200);
  return (await r.json()).data;
}

/** The stored answer of a thread once its turn has ended. */
export async function finalAnswer(token, user, thread, base = BASE) {
  for (let i = 0; i < 200; i++) {
    const messages = await stored(token, user, thread, base);
    const answer = messages.at(-1);
    if (answer.role === 'assistant' && answer.status !== 'in_progress') return answer;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the turn did not end');
}

/** A chat state in plain arrays: what a UI framework's state is to `useChat`. */
class ArrayState {
  status = 'ready';
  error = undefined;

  constructor(messages = []) {
    this.messages = messages;
  }

  pushMessage = (m) => {
    this.messages = this.messages.concat(m);
  };

  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };

  replaceMessage = (i, m) => {
    this.messages = this.messages.map((old, j) => (j === i ? m : old));
  };

  snapshot = (thing) => structuredClone(thing);
}

/** The SDK's chat (what `useChat` runs), on arrays instead of a framework's state. */
export class TestChat extends AbstractChat {
  constructor({ messages, ...init }) {
    super({ ...init, state: new ArrayState(messages) });
  }
}
