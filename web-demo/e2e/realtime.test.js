// Realtime behaviour: two tabs of one user see the same turn live; a cut connection is shown,
// retried with backoff and resumed with what it missed; tokens refresh over the socket; a
// refused token sends the user back to sign-in.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, watchErrors } from './lib/browser.js';
import { CuttableProxy } from './lib/proxy.js';
import {
  answerDone,
  ask,
  connection,
  seeStreaming,
  signInWithName,
  waitForTasks,
} from './lib/page.js';
import { apiGet, BASE, devToken, mintJwt, restChat, userId } from './lib/server.js';

let browser;
let errors = [];

/** The thread open on `page`. */
async function openThreadId(page) {
  return page.locator('#thread-list .thread[aria-current="true"]').getAttribute('data-id');
}

describe('realtime', () => {
  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
  });

  test('a second tab of the same user sees a turn appear live', async () => {
    const user = userId('bilal');
    const a = await browser.context.newPage();
    watchErrors(a, errors);
    await a.goto(`${BASE}/`);
    await signInWithName(a, user);
    await connection(a, 'online');

    // The second tab shares the browser's session: no second sign-in.
    const b = await browser.context.newPage();
    watchErrors(b, errors);
    await b.goto(`${BASE}/`);
    await connection(b, 'online');
    assert.equal(await b.locator('#who').textContent(), user);

    // A starts a thread; it appears in B's list live, and B's tasks panel changes.
    const first = await ask(a, 'add a task to renew the car insurance');
    await answerDone(a, first.id);
    const threadId = await openThreadId(a);
    await b.locator(`#thread-list .thread[data-id="${threadId}"]`).waitFor();
    await waitForTasks(b, (t) => t.length === 1 && t[0].title === 'renew the car insurance');

    // B opens it and watches A's next turn stream in, word by word.
    await b.locator(`#thread-list .thread[data-id="${threadId}"]`).click();
    await b.locator('#messages li.message').nth(1).waitFor();
    const second = await ask(a, 'Isko zaroori bana do');
    await b.locator('#messages li.message.user', { hasText: 'Isko zaroori bana do' }).waitFor();
    const partial = await seeStreaming(b, second.id);
    const onB = await answerDone(b, second.id);
    const onA = await answerDone(a, second.id);
    assert.equal(onB, onA);
    assert.ok(partial.length < onB.length, 'B saw the answer before it was complete');
    assert.match(onB, /#1/);
    await waitForTasks(b, (t) => t[0]?.priority === 'high');
    await waitForTasks(a, (t) => t[0]?.priority === 'high');
    await a.close();
    await b.close();
  });

  test('a cut connection is shown, retried, and the open thread recovers what it missed', async () => {
    const user = userId('chaudhry');
    const proxy = new CuttableProxy(BASE);
    const origin = await proxy.listen();
    const page = await browser.context.newPage();
    watchErrors(page, errors);
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws));
    try {
      await page.goto(`${origin}/`);
      await signInWithName(page, user);
      await connection(page, 'online');
      const first = await ask(page, 'add a task to book train tickets');
      await answerDone(page, first.id);
      const threadId = await openThreadId(page);

      // Cut mid-stream: the turn carries on on the server without this socket.
      const midway = await ask(page, 'mere tasks dikhao');
      await seeStreaming(page, midway.id);
      proxy.cut();
      await connection(page, 'reconnecting');
      assert.match(await page.locator('#conn-text').textContent(), /^Connection lost/);
      assert.equal(await page.locator('#send').isDisabled(), true, 'no sending while offline');

      // Meanwhile another device of the user takes a turn in the same thread.
      const other = await restChat(user, 'add a task to pack the suitcase', threadId);
      assert.equal(other.conversation_id, threadId);

      // Held down for a few retries, then let through: the page comes back by itself.
      await page.waitForTimeout(2500);
      assert.equal(await page.locator('#conn').getAttribute('data-state'), 'reconnecting');
      proxy.restore();
      await connection(page, 'online', 20_000);
      assert.ok(sockets.length >= 2, 'a new socket was opened');

      // Nothing is missing: the interrupted answer is complete, and the other device's turn is
      // there, exactly as stored.
      const stored = await apiGet(user, `/api/${user}/conversations/${threadId}/messages`);
      await page.locator('#messages li.message').nth(stored.data.length - 1).waitFor();
      await page.locator(`li[data-id="${midway.id}"][data-status="completed"]`).waitFor();
      // An answer's text as its Markdown source, which the stored content is.
      const shown = await page.locator('#messages li.message').evaluateAll((items) =>
        items.map((li) => {
          const bubble = li.querySelector('.bubble');
          return bubble?.dataset.source ?? bubble?.textContent ?? '';
        }),
      );
      assert.deepEqual(shown, stored.data.map((m) => m.content));
      await waitForTasks(page, (t) => t.some((x) => x.title === 'pack the suitcase'));

      // And it works as before.
      const after = await ask(page, 'add a task to print the boarding pass');
      await answerDone(page, after.id);
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  test('a development token is refreshed over the socket before it expires', async () => {
    const user = userId('dania');
    const short = await devToken(user, 12);
    const expiresAt = Math.floor(Date.now() / 1000) + short.expires_in;
    const page = await browser.context.newPage();
    watchErrors(page, errors);
    // A session whose token has twelve seconds left, as if signed in a while ago.
    await page.goto(`${BASE}/`);
    await page.evaluate((session) => {
      localStorage.setItem('agentwire.session', JSON.stringify(session));
    }, { mode: 'dev', user_id: user, token: short.token, expires_at: expiresAt });
    const sent = [];
    const received = [];
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => sent.push(JSON.parse(f.payload)));
      ws.on('framereceived', (f) => received.push(JSON.parse(f.payload)));
    });
    await page.reload();
    await connection(page, 'online');

    const deadline = Date.now() + 15_000;
    while (!received.some((f) => f.type === 'auth.refreshed') && Date.now() < deadline) {
      await page.waitForTimeout(100);
    }
    const refreshed = received.find((f) => f.type === 'auth.refreshed');
    assert.ok(refreshed, `no auth.refreshed; received ${JSON.stringify(received.map((f) => f.type))}`);
    const auths = sent.filter((f) => f.type === 'auth');
    assert.equal(auths.length, 2, 'first-frame auth, then one refresh');
    assert.equal(auths[0].token, short.token, 'the socket opened with the short-lived token');
    assert.notEqual(auths[1].token, short.token);
    assert.ok(refreshed.expires_at > Date.now() / 1000 + 600);

    // Past the first token's expiry the same socket still works, and no token_expired came.
    await page.waitForTimeout(Math.max(0, (expiresAt + 1) * 1000 - Date.now()));
    const turn = await ask(page, 'add a task to renew my passport');
    await answerDone(page, turn.id);
    assert.equal(received.filter((f) => f.type === 'ready').length, 1, 'never reconnected');
    assert.ok(!received.some((f) => f.type === 'error'), JSON.stringify(received.filter((f) => f.type === 'error')));
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('agentwire.session')));
    assert.equal(stored.token, auths[1].token, 'the renewed token is kept for reconnects');
    await page.evaluate(() => localStorage.clear());
    await page.close();
  });

  test('a pasted token works, and one the server refuses returns to sign-in', async () => {
    const user = userId('erum');
    const page = await browser.context.newPage();
    watchErrors(page, errors);
    await page.goto(`${BASE}/`);
    await page.evaluate(() => localStorage.clear());
    await page.reload();

    // Not a JWT at all: refused on the page, with the field marked.
    await page.locator('#jwt-input').fill('not-a-token');
    await page.locator('#jwt-form button[type="submit"]').click();
    assert.match(await page.locator('#signin-error').textContent(), /not a JWT/);
    assert.equal(await page.locator('#jwt-input').getAttribute('aria-invalid'), 'true');

    // A well-formed token signed with another key: the server closes the socket with 4401.
    await page.locator('#jwt-input').fill(mintJwt(user, { secret: 'some-other-secret' }));
    await page.locator('#jwt-form button[type="submit"]').click();
    await page.locator('#signin').waitFor();
    await page.locator('#signin-error', { hasText: 'refused the token' }).waitFor();

    // A good one signs in, as the token's user.
    await page.locator('#jwt-input').fill(mintJwt(user));
    await page.locator('#jwt-form button[type="submit"]').click();
    await connection(page, 'online');
    assert.equal(await page.locator('#who').textContent(), user);
    const turn = await ask(page, 'add a task to feed the cat');
    await answerDone(page, turn.id);

    // Signing out closes the socket and forgets the token.
    await page.locator('#sign-out').click();
    await page.locator('#signin').waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('agentwire.session')), null);
    await page.close();
  });

  test('no page errors or console errors', () => {
    assert.deepEqual(errors, []);
  });
});
