// Two instances on one PostgreSQL database (run.sh starts them when TEST_DATABASE_URL is set):
// a turn sent through the SDK's WebSocketChatTransport on one instance resumes on the other,
// through the SDK's own chat, to exactly the whole answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Reading, TestChat, deltas, finalAnswer, send, textOf, tokenFor, user, userMessage, wsTransport } from './lib.mjs';

const A = process.env.AGENTWIRE_URL_PG_A;
const B = process.env.AGENTWIRE_URL_PG_B;

test('a send on one instance resumes on the other', { skip: !A && 'no PostgreSQL instances' }, async () => {
  const hana = user('hana');
  const token = await tokenFor(hana, A);
  const onA = wsTransport(token, { base: A });
  const first = new Reading(await send(onA.transport, 'pg-across', 'help'));
  assert.ok(await first.until((c) => deltas(c) >= 3));
  onA.recorder.cut();

  const onB = wsTransport(token, { base: B });
  const id = first.chunks[0].messageId;
  const partial = { id, role: 'assistant', parts: [{ type: 'text', text: first.text() }] };
  const chat = new TestChat({ id: 'pg-across', transport: onB.transport, messages: [userMessage('help'), partial] });
  await chat.resumeStream();
  const answer = await finalAnswer(token, hana, first.thread(), B);
  assert.equal(answer.status, 'completed');
  assert.equal(chat.messages.length, 2);
  assert.equal(textOf(chat.messages[1]), answer.content);
  assert.ok(answer.content.startsWith(first.text()));
  onB.transport.close();
});
