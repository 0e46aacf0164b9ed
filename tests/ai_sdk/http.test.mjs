// The SDK's own DefaultChatTransport against POST /api/ai-sdk and its resume route: a send
// with a tool call, a resume after the request is cut mid-answer (a new transport and chat, as
// after a reload), nothing to resume, other users' chat ids, and errors before any stream.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BASE,
  Reading,
  TestChat,
  deltas,
  finalAnswer,
  httpTransport,
  read,
  send,
  textOf,
  tokenFor,
  user,
  userMessage,
} from './lib.mjs';

test('a send streams a turn with its tool call; every chunk is valid', async () => {
  const carl = user('carl');
  const token = await tokenFor(carl);
  const { chunks, message, error } = await read(await send(httpTransport(token), 'h-tool', 'add buy milk'));
  assert.equal(error, undefined);
  assert.deepEqual([chunks[0].type, chunks.at(-1).type], ['start', 'finish']);
  const tool = message.parts.find((p) => p.type === 'tool-add_task');
  assert.equal(tool?.state, 'output-available', JSON.stringify(message.parts));
  assert.equal(tool.input.title, 'buy milk');
  const answer = await finalAnswer(token, carl, message.metadata.threadId);
  assert.equal(textOf(message), answer.content);
  assert.equal(message.id, answer.id);
});

test('a cut request resumes on a new transport and chat, to exactly the whole answer', async () => {
  const dana = user('dana');
  const token = await tokenFor(dana);
  const cut = new AbortController();
  const first = new Reading(await send(httpTransport(token), 'h-cut', 'help', cut.signal));
  assert.ok(await first.until((c) => deltas(c) >= 3));
  cut.abort();

  const id = first.chunks[0].messageId;
  const partial = { id, role: 'assistant', parts: [{ type: 'text', text: first.text() }] };
  const chat = new TestChat({
    id: 'h-cut',
    transport: httpTransport(token),
    messages: [userMessage('help'), partial],
  });
  await chat.resumeStream();
  assert.equal(chat.status, 'ready');
  // A cut request is no stop: the turn ran to its end.
  const answer = await finalAnswer(token, dana, first.thread());
  assert.equal(answer.status, 'completed');
  assert.equal(chat.messages.length, 2);
  assert.equal(textOf(chat.messages[1]), answer.content);
});

test("nothing to resume is null, for a chat never used and for another user's", async () => {
  const erin = user('erin');
  const token = await tokenFor(erin);
  const transport = httpTransport(token);
  assert.equal(await transport.reconnectToStream({ chatId: 'h-never' }), null);

  const running = new Reading(await send(transport, 'h-shared', 'help'));
  assert.ok(await running.until((c) => c.length >= 1));
  const thread = running.thread();
  const other = httpTransport(await tokenFor(user('fred')));
  assert.equal(await other.reconnectToStream({ chatId: 'h-shared' }), null);
  assert.equal(await other.reconnectToStream({ chatId: thread }), null);
  const theirs = await read(await send(other, thread, 'hello'));
  assert.notEqual(theirs.message.metadata.threadId, thread);
  await running.rest();
  assert.equal(running.text(), (await finalAnswer(token, erin, thread)).content);
  assert.equal(await transport.reconnectToStream({ chatId: 'h-shared' }), null);
});

test('errors come as HTTP errors before any stream', async () => {
  const noToken = httpTransport('not-a-token');
  await assert.rejects(send(noToken, 'h-err', 'hello'), (e) => {
    assert.equal(e.statusCode, 401);
    assert.equal(JSON.parse(e.responseBody).error.code, 'unauthorized');
    return true;
  });
  const transport = httpTransport(await tokenFor(user('gina')));
  const edit = transport.sendMessages({
    chatId: 'h-err',
    messages: [userMessage('hello')],
    trigger: 'submit-message',
    messageId: 'earlier',
  });
  await assert.rejects(edit, (e) => e.statusCode === 400);
  const r = await fetch(`${BASE}/api/ai-sdk/h-err/stream`);
  assert.equal(r.status, 401);
});
