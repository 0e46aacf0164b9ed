// The SDK's own WebSocketChatTransport (with `ws` as its WebSocket) against /api/ai-sdk/ws:
// sends, a tool call, resumes after a cut socket and after a reload, abort, other users' chat
// ids, and every frame we accept also accepted by the SDK's validator.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { safeValidateWebSocketChatTransportRequest } from 'ai';

import {
  BASE,
  Reading,
  TestChat,
  deltas,
  finalAnswer,
  read,
  send,
  textOf,
  tokenFor,
  user,
  userMessage,
  wsTransport,
} from './lib.mjs';

test('a send streams a turn the SDK assembles; every chunk and every frame sent is valid', async () => {
  const alice = user('alice');
  const token = await tokenFor(alice);
  const { transport, recorder } = wsTransport(token);
  const { chunks, message, error } = await read(await send(transport, 'ws-send', 'hello'));
  assert.equal(error, undefined);
  assert.deepEqual([chunks[0].type, chunks.at(-1).type], ['start', 'finish']);
  const answer = await finalAnswer(token, alice, message.metadata.threadId);
  assert.equal(message.id, answer.id);
  assert.equal(textOf(message), answer.content);
  assert.equal(message.metadata.status, 'completed');
  for (const frame of recorder.sent) {
    const checked = await safeValidateWebSocketChatTransportRequest({ value: frame });
    assert.ok(checked.success, JSON.stringify(frame));
  }
  transport.close();
});

test('a tool call: the chat shows the server-run add_task with its input and output', async () => {
  const tom = user('tom');
  const token = await tokenFor(tom);
  const { transport } = wsTransport(token);
  const chat = new TestChat({ id: 'ws-tool', transport });
  await chat.sendMessage({ text: 'add buy milk' });
  assert.equal(chat.status, 'ready');
  const answer = chat.messages.at(-1);
  const tool = answer.parts.find((p) => p.type === 'tool-add_task');
  assert.equal(tool?.state, 'output-available', JSON.stringify(answer.parts));
  assert.equal(tool.input.title, 'buy milk');
  assert.equal(tool.output.task.title, 'buy milk');
  const r = await fetch(`${BASE}/api/${tom}/tasks`, { headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual((await r.json()).data.map((t) => t.title), ['buy milk']);
  transport.close();
});

test('reconnectToStream on the same transport after its socket is cut mid-answer', async () => {
  const alice = user('alice');
  const token = await tokenFor(alice);
  const { transport, recorder } = wsTransport(token);
  const first = new Reading(await send(transport, 'ws-cut', 'help'));
  assert.ok(await first.until((c) => deltas(c) >= 3));
  recorder.cut();
  await assert.rejects(first.reader.read(), /connection closed/);
  // The SDK's resume asks for the whole turn again (a replay) on a new socket.
  const stream = await transport.reconnectToStream({ chatId: 'ws-cut' });
  assert.ok(stream, 'the turn was still running');
  const { message } = await read(stream);
  assert.equal(recorder.sockets.length, 2);
  const answer = await finalAnswer(token, alice, first.thread());
  assert.equal(answer.status, 'completed');
  assert.equal(textOf(message), answer.content);
  assert.ok(answer.content.startsWith(first.text()));
  transport.close();
});

test('a new transport and chat, as after a reload, resume the answer to exactly its text', async () => {
  const alice = user('alice');
  const token = await tokenFor(alice);
  const old = wsTransport(token);
  const first = new Reading(await send(old.transport, 'ws-reload', 'help'));
  assert.ok(await first.until((c) => deltas(c) >= 3));
  old.recorder.cut();

  const { transport } = wsTransport(token);
  // The page kept the question and the answer so far (with the id the server gave it); the
  // answer comes back whole in its place, not appended to it.
  const id = first.chunks[0].messageId;
  const partial = { id, role: 'assistant', parts: [{ type: 'text', text: first.text() }] };
  const chat = new TestChat({ id: 'ws-reload', transport, messages: [userMessage('help'), partial] });
  await chat.resumeStream();
  const answer = await finalAnswer(token, alice, first.thread());
  assert.equal(chat.status, 'ready');
  assert.equal(chat.messages.length, 2);
  assert.equal(chat.messages[1].id, answer.id);
  assert.equal(textOf(chat.messages[1]), answer.content);
  // Over now: a resume finds nothing, and the chat is left as it was.
  await chat.resumeStream();
  assert.equal(textOf(chat.messages[1]), answer.content);
  transport.close();
});

test('stop() aborts the send: the turn is cancelled with its text so far', async () => {
  const abby = user('abby');
  const token = await tokenFor(abby);
  const { transport, recorder } = wsTransport(token);
  const chat = new TestChat({ id: 'ws-abort', transport });
  const sent = chat.sendMessage({ text: 'help' });
  while (textOf(chat.messages.at(-1)).split(' ').length < 3 || chat.messages.length < 2) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await chat.stop();
  await sent;
  const shown = textOf(chat.messages.at(-1));
  const sendFrame = recorder.sent.find((f) => f.type === 'send');
  assert.ok(recorder.sent.some((f) => f.type === 'abort' && f.requestId === sendFrame.requestId));
  const answer = await finalAnswer(token, abby, chat.messages.at(-1).metadata.threadId);
  assert.equal(answer.status, 'cancelled');
  assert.ok(answer.content.startsWith(shown), `${answer.content} / ${shown}`);
  const whole = await read(await send(transport, 'ws-abort-whole', 'help'));
  assert.ok(answer.content.length < textOf(whole.message).length, 'the answer stopped early');
  transport.close();
});

test("another user's chat id or thread id reaches nothing of theirs", async () => {
  const aliceName = user('alice');
  const alice = await tokenFor(aliceName);
  const bob = await tokenFor(user('bob'));
  const a = wsTransport(alice);
  const running = new Reading(await send(a.transport, 'ws-shared', 'help'));
  assert.ok(await running.until((c) => c.length >= 1));
  const thread = running.thread();

  const b = wsTransport(bob);
  assert.equal(await b.transport.reconnectToStream({ chatId: 'ws-shared' }), null);
  assert.equal(await b.transport.reconnectToStream({ chatId: thread }), null);
  const bobs = await read(await send(b.transport, thread, 'hello'));
  assert.notEqual(bobs.message.metadata.threadId, thread);

  await running.rest();
  const answer = await finalAnswer(alice, aliceName, thread);
  assert.equal(running.text(), answer.content);
  a.transport.close();
  b.transport.close();
});

/** Sends raw frames on one socket; answers the first response to each. */
async function rawSocket(token) {
  const { default: WebSocket } = await import('ws');
  const socket = new WebSocket(`${BASE.replace(/^http/, 'ws')}/api/ai-sdk/ws?token=${token}`);
  const inbox = [];
  let wake = () => {};
  socket.on('message', (d) => {
    inbox.push(JSON.parse(d.toString()));
    wake();
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const next = async (requestId) => {
    for (;;) {
      const i = inbox.findIndex((f) => f.requestId === requestId);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await new Promise((r) => { wake = r; });
    }
  };
  return { socket, next };
}

test('every frame we accept, the SDK accepts; every frame it refuses, we refuse', async () => {
  const token = await tokenFor(user('vera'));
  const msg = (parts, role = 'user') => [{ id: 'm', role, parts }];
  const text = [{ type: 'text', text: 'hello' }];
  let n = 0;
  const sendFrame = (extra = {}) => ({
    type: 'send', requestId: `q${++n}`, id: `chat-${n}`, trigger: 'submit-message',
    messages: msg(text), headers: {}, body: {}, ...extra,
  });
  const resumeFrame = (extra = {}) => ({
    type: 'resume', requestId: `q${++n}`, id: `chat-${n}`, headers: {}, body: {}, ...extra,
  });
  const frames = [
    sendFrame(),
    sendFrame({ metadata: { language: 'en' }, headers: { Authorization: `Bearer ${token}` } }),
    sendFrame({ messages: [...msg(text), { id: 'a', role: 'assistant', parts: [] }, ...msg(text)] }),
    resumeFrame(),
    resumeFrame({ lastSequence: 4 }),
    sendFrame({ headers: undefined }),
    sendFrame({ headers: { a: 1 } }),
    sendFrame({ body: [] }),
    sendFrame({ body: null }),
    sendFrame({ trigger: 'resume-stream' }),
    sendFrame({ messageId: 7 }),
    sendFrame({ messages: [] }),
    sendFrame({ messages: msg([]) }),
    sendFrame({ messages: msg([{ type: 'texts', text: 'x' }]) }),
    sendFrame({ messages: msg([{ type: 'text', text: 3 }]) }),
    sendFrame({ messages: msg(text, 'bot') }),
    sendFrame({ id: 5 }),
    resumeFrame({ lastSequence: -1 }),
    resumeFrame({ lastSequence: 1.5 }),
    resumeFrame({ lastSequence: '2' }),
    resumeFrame({ lastSequence: null }),
    resumeFrame({ body: undefined }),
    { type: 'subscribe', requestId: `q${++n}` },
    // The SDK takes these; we cannot answer them (attachments, an edit, no user message).
    sendFrame({ messages: msg([{ type: 'file', mediaType: 'image/png', url: 'data:,' }]) }),
    sendFrame({ messageId: 'm' }),
    sendFrame({ messages: msg(text, 'assistant') }),
  ];
  const { socket, next } = await rawSocket(token);
  let accepted = 0;
  for (const frame of frames) {
    socket.send(JSON.stringify(frame));
    const reply = await next(frame.requestId);
    const sdk = await safeValidateWebSocketChatTransportRequest({ value: frame });
    if (reply.type === 'error') {
      assert.match(reply.errorText, /^invalid_frame: /);
      continue;
    }
    accepted += 1;
    assert.ok(sdk.success, `we took a frame the SDK refuses: ${JSON.stringify(frame)}`);
    assert.ok(['start', 'no-active'].includes(reply.type), JSON.stringify(reply));
    if (reply.type === 'start') {
      while ((await next(frame.requestId)).type !== 'end');
    }
  }
  assert.equal(accepted, 5);
  socket.close();
});
