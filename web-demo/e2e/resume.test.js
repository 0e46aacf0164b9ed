// Resuming the event stream (docs/protocol.md section 7): a page reloaded mid-answer (of a turn
// sent from it or from elsewhere) shows the text streamed so far and goes on; a socket killed mid-answer comes back with exactly what it
// missed and no reload; a position the server cannot recover falls back to thread.load; the REST
// page resumes a cut SSE stream with Last-Event-ID; and deltas apply by seq and count.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, watchErrors } from './lib/browser.js';
import { CuttableProxy } from './lib/proxy.js';
import {
  answerDone,
  ask,
  say,
  assertStreamedWhole,
  connection,
  recordAnswerTexts,
  seeStreaming,
  seeWords,
  signInWithName,
  watchSockets,
} from './lib/page.js';
import { apiGet, BASE, restChat, userId } from './lib/server.js';

let browser;
const errors = [];

/** The thread open on `page`. */
async function openThreadId(page) {
  return page.locator('#thread-list .thread[aria-current="true"]').getAttribute('data-id');
}

/** What the page shows of its open thread, one text per message (an answer's Markdown source). */
async function shownTexts(page) {
  return page.locator('#messages li.message').evaluateAll((items) =>
    items.map((li) => {
      const bubble = li.querySelector('.bubble');
      return bubble?.dataset.source ?? bubble?.textContent ?? '';
    }),
  );
}

/** The stored messages of a conversation. */
async function storedMessages(user, threadId) {
  const stored = await apiGet(user, `/api/${user}/conversations/${threadId}/messages`);
  return stored.data;
}

/** A page of its own, its errors watched and its answers' texts recorded. */
async function newPage() {
  const page = await browser.context.newPage();
  watchErrors(page, errors);
  await recordAnswerTexts(page);
  return page;
}

/** Opens `url` signed in as `user` only (another test of this browser may have signed in). */
async function signInAt(page, url, user) {
  await page.goto(url);
  await page.evaluate(() => {
    localStorage.clear();
    sessionStorage.clear();
  });
  await page.reload();
  await signInWithName(page, user);
}

const frames = (socket, type) => socket.received.filter((f) => f.type === type);
const sentOf = (socket, type) => socket.sent.filter((f) => f.type === type);

describe('resuming', () => {
  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  test('reloading the page mid-answer shows the text so far, and the answer goes on once', async () => {
    const user = userId('hamid');
    const page = await newPage();
    const sockets = watchSockets(page);
    await signInAt(page, `${BASE}/`, user);
    await connection(page, 'online');
    const first = await ask(page, 'add a task to water the plants');
    await answerDone(page, first.id);
    const threadId = await openThreadId(page);

    const { id } = await ask(page, 'help');
    const before = await seeWords(page, id, 3);
    await page.reload();
    await connection(page, 'online');

    // The same thread is open again, with the answer as far as it had come, still streaming.
    const shown = await seeStreaming(page, id);
    assert.ok(shown.startsWith(before), `after the reload ${JSON.stringify(shown)}, before ${JSON.stringify(before)}`);
    assert.equal(await openThreadId(page), threadId);

    const text = await answerDone(page, id);
    const stored = await storedMessages(user, threadId);
    assert.equal(text, stored[stored.length - 1].content);
    assert.match(text, /^I can manage your tasks/);
    // Every message once, as stored; the answer only ever grew towards its final text.
    assert.deepEqual(await shownTexts(page), stored.map((m) => m.content));
    assert.equal(await page.locator(`li[data-id="${id}"]`).count(), 1);
    await assertStreamedWhole(page, id, text);

    // The reloaded page resumed from before the turn, and the server replayed it.
    const reloaded = sockets[sockets.length - 1];
    const auth = sentOf(reloaded, 'auth')[0];
    assert.equal(typeof auth.resume_after, 'string');
    const [resumed] = frames(reloaded, 'resumed');
    assert.equal(resumed.recovered, true);
    assert.ok(resumed.replayed > 0);
    await page.close();
  });

  test('a page reloaded mid-answer of a turn sent from another device replays it whole', async () => {
    const user = userId('hina');
    const page = await newPage();
    await signInAt(page, `${BASE}/`, user);
    await connection(page, 'online');
    const first = await ask(page, 'add a task to buy stamps');
    await answerDone(page, first.id);
    const threadId = await openThreadId(page);

    // Another device of the user asks in the same thread; this tab only watches.
    const elsewhere = restChat(user, 'help', threadId);
    const answer = page.locator('#messages li.message.assistant').nth(1);
    await answer.waitFor();
    const id = await answer.getAttribute('data-id');
    const before = await seeWords(page, id, 3);
    await page.reload();
    await connection(page, 'online');

    const shown = await seeStreaming(page, id);
    assert.ok(shown.startsWith(before), `after the reload ${JSON.stringify(shown)}, before ${JSON.stringify(before)}`);
    const text = await answerDone(page, id);
    assert.equal(text, (await elsewhere).message);
    const stored = await storedMessages(user, threadId);
    assert.deepEqual(await shownTexts(page), stored.map((m) => m.content));
    await assertStreamedWhole(page, id, text);
    await page.close();
  });

  test('a socket killed mid-answer resumes with nothing missing or twice, and no reload', async () => {
    const user = userId('imran');
    const proxy = new CuttableProxy(BASE);
    const origin = await proxy.listen();
    const page = await newPage();
    const sockets = watchSockets(page);
    try {
      await signInAt(page, `${origin}/`, user);
      await connection(page, 'online');
      const first = await ask(page, 'add a task to fix the bike');
      await answerDone(page, first.id);
      const threadId = await openThreadId(page);

      const { id } = await ask(page, 'help');
      await seeWords(page, id, 3);
      // Mark the drawn messages: a reload would draw them anew.
      await page.locator('#messages li.message').evaluateAll((items) => {
        for (const li of items) li.dataset.drawn = 'before';
      });
      proxy.cut();
      await connection(page, 'reconnecting');
      // Deltas go on meanwhile (one every 100 ms); this socket misses them.
      await page.waitForTimeout(1200);
      proxy.restore();
      await connection(page, 'online', 20_000);

      const text = await answerDone(page, id);
      const stored = await storedMessages(user, threadId);
      assert.equal(text, stored[stored.length - 1].content);
      assert.deepEqual(await shownTexts(page), stored.map((m) => m.content));
      await assertStreamedWhole(page, id, text);

      // Resumed, recovered, and nothing reloaded: no thread.load on any socket, the same items.
      assert.ok(sockets.length >= 2, 'a new socket was opened');
      const last = sockets[sockets.length - 1];
      assert.equal(typeof sentOf(last, 'auth')[0].resume_after, 'string');
      const [resumed] = frames(last, 'resumed');
      assert.equal(resumed.recovered, true);
      assert.ok(resumed.replayed > 0, 'the missed deltas were replayed');
      const loads = sockets.flatMap((s) => sentOf(s, 'thread.load'));
      assert.deepEqual(loads, [], 'no thread.load');
      const drawn = await page
        .locator('#messages li.message')
        .evaluateAll((items) => items.map((li) => li.dataset.drawn || 'anew'));
      assert.deepEqual(drawn, ['before', 'before', 'before', 'before']);
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  test('a send whose answer the blip swallowed is sent again and runs once', async () => {
    const user = userId('rafi');
    const proxy = new CuttableProxy(BASE);
    const origin = await proxy.listen();
    const page = await newPage();
    const sockets = watchSockets(page);
    try {
      await signInAt(page, `${origin}/`, user);
      await connection(page, 'online');
      // The message reaches the server, but nothing the server answers reaches the page.
      proxy.mute();
      await say(page, 'add a task to buy bread');
      await page.waitForTimeout(600);
      proxy.cut();
      await connection(page, 'reconnecting');
      proxy.restore();
      await connection(page, 'online', 20_000);

      // The page sent the same message again, with the same client id.
      const sent = sockets.flatMap((s) => sentOf(s, 'message'));
      assert.equal(sent.length, 2, JSON.stringify(sent));
      assert.ok(sent[0].client_message_id);
      assert.equal(sent[1].client_message_id, sent[0].client_message_id);
      assert.equal(sent[1].content, sent[0].content);

      const answer = page.locator('#messages li.message.assistant').first();
      await answer.waitFor();
      const id = await answer.getAttribute('data-id');
      await answerDone(page, id);
      // One task, one question and one answer shown.
      const tasks = await apiGet(user, `/api/${user}/tasks`);
      const titles = (tasks.data || tasks.tasks || tasks).map((t) => t.title);
      assert.deepEqual(titles, ['buy bread']);
      const threadId = await openThreadId(page);
      const stored = await storedMessages(user, threadId);
      assert.equal(stored.length, 2);
      assert.deepEqual(await shownTexts(page), stored.map((m) => m.content));
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  test('a position the server cannot recover falls back to thread.load', async () => {
    const user = userId('junaid');
    const page = await newPage();
    await signInAt(page, `${BASE}/`, user);
    await connection(page, 'online');
    const { id } = await ask(page, 'help');
    await seeWords(page, id, 3);
    const threadId = await openThreadId(page);

    // As if the server had restarted since: its positions name an instance it does not know.
    const last = { sent: [], received: [] };
    await page.routeWebSocket(/\/api\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => {
        const frame = JSON.parse(message);
        if (frame.resume_after) frame.resume_after = `${Date.now()}.2a.2a-7`;
        last.sent.push(frame);
        server.send(JSON.stringify(frame));
      });
      server.onMessage((message) => {
        last.received.push(JSON.parse(message));
        ws.send(message);
      });
    });
    await page.reload();
    await connection(page, 'online');

    const text = await answerDone(page, id);
    const stored = await storedMessages(user, threadId);
    assert.equal(text, stored[stored.length - 1].content);
    assert.deepEqual(await shownTexts(page), stored.map((m) => m.content));
    assert.match(sentOf(last, 'auth')[0].resume_after, /\.2a-7$/);
    assert.equal(frames(last, 'resumed')[0].recovered, false);
    assert.ok(sentOf(last, 'thread.load').length >= 1, 'the thread was loaded');
    await page.unrouteAll();
    await page.close();
  });

  test('the REST page resumes a cut SSE stream after its last event id', async () => {
    const user = userId('kamran');
    const proxy = new CuttableProxy(BASE);
    const origin = await proxy.listen();
    const page = await newPage();
    const resumes = [];
    page.on('request', (r) => {
      if (r.method() === 'GET' && /\/conversations\/[^/]+\/stream$/.test(new URL(r.url()).pathname)) {
        resumes.push(r.headers()['last-event-id'] ?? null);
      }
    });
    try {
      await signInAt(page, `${origin}/rest.html`, user);
      const { id } = await ask(page, 'help');
      await seeWords(page, id, 3);
      proxy.cut();
      await page.waitForTimeout(1000);
      proxy.restore();

      const text = await answerDone(page, id);
      const convs = await apiGet(user, `/api/${user}/conversations`);
      const stored = await storedMessages(user, convs.data[0].id);
      assert.equal(text, stored[stored.length - 1].content);
      assert.deepEqual(await shownTexts(page), stored.map((m) => m.content));
      await assertStreamedWhole(page, id, text);
      assert.ok(
        resumes.some((lastId) => Number(lastId) > 0),
        `resumed with Last-Event-ID: ${JSON.stringify(resumes)}`,
      );
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  test('delta frames apply by seq and count: overlaps are cut, repeats skipped, holes reported', async () => {
    const page = await newPage();
    await page.goto(`${BASE}/`);
    const results = await page.evaluate(async () => {
      const { OpenThread } = await import('/assets/thread.js');
      const open = new OpenThread(document.createElement('ol'));
      open.reset('t');
      open.added({ id: 'm', thread_id: 't', role: 'assistant', content: '', status: 'in_progress' });
      const d = (seq, delta, count) => open.delta({ message_id: 'm', seq, delta, count });
      const out = [];
      const step = (r) => out.push([r, open.messages.get('m').content]);
      step(d(0, 'Hello '));
      step(d(1, 'big ', 1));
      step(d(0, 'Hello big wide ', 3)); // overlaps two shown deltas: only "wide " is new
      step(d(1, 'big wide ', 2)); // wholly shown
      step(d(3, 'world', 1));
      step(d(5, '!', 1)); // seq 4 is missing
      step(d(2, 'wide world!', 3)); // overlaps two frames shown: the cut is exact
      // Loaded in progress: the text so far and the seq of its next delta.
      open.loaded([{ id: 'n', thread_id: 't', role: 'assistant', content: 'Ab', status: 'in_progress', next_seq: 2 }], true);
      const e = (seq, delta, count) => open.delta({ message_id: 'n', seq, delta, count });
      out.push([e(0, 'Abc', 3), open.messages.get('n').content]);
      out.push([e(1, 'b', 1), open.messages.get('n').content]);
      out.push([e(3, 'd', 1), open.messages.get('n').content]);
      // A load that lags behind what streamed in here keeps what is shown.
      open.loaded([{ id: 'n', thread_id: 't', role: 'assistant', content: 'A', status: 'in_progress', next_seq: 1 }], true);
      out.push([e(4, 'e', 1), open.messages.get('n').content]);
      // An answer whose start was missed: its first delta past seq 0 is a hole.
      out.push([open.delta({ message_id: 'o', seq: 7, delta: 'x' }), open.messages.get('o').content]);
      return out;
    });
    assert.deepEqual(results, [
      ['ok', 'Hello '],
      ['ok', 'Hello big '],
      ['ok', 'Hello big wide '],
      ['ok', 'Hello big wide '],
      ['ok', 'Hello big wide world'],
      ['hole', 'Hello big wide world'],
      ['ok', 'Hello big wide world!'],
      ['ok', 'Abc'],
      ['ok', 'Abc'],
      ['ok', 'Abcd'],
      ['ok', 'Abcde'],
      ['hole', ''],
    ]);
    await page.close();
  });

  test('no page errors or console errors', () => {
    // A cut connection makes the browser log the loads it refused; that is the test, not a bug.
    const unexpected = errors.filter((e) => !/Failed to load resource: net::ERR_/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
