// The REST page: the same conversation over POST /chat/stream (SSE) and POST /chat, without a
// WebSocket, and seen afterwards on the realtime page.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, watchErrors } from './lib/browser.js';
import { answerDone, ask, connection, seeStreaming, signInWithName, waitForTasks } from './lib/page.js';
import { apiGet, BASE, mintJwt, userId } from './lib/server.js';

const user = userId('farah');
let browser;
let page;
let errors;
const requests = [];

describe('REST page', () => {
  before(async () => {
    browser = await launch();
    page = await browser.context.newPage();
    errors = watchErrors(page);
    page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
    page.on('websocket', (ws) => requests.push(`WS ${ws.url()}`));
  });

  after(async () => {
    await browser?.close();
  });

  test('signs in and streams an answer over SSE', async () => {
    await page.goto(`${BASE}/rest.html`);
    await signInWithName(page, user);
    assert.match(await page.locator('#greeting').textContent(), new RegExp(`Hi ${user}`));
    assert.equal(await page.locator('#use-sse').isChecked(), true);

    const { id, item } = await ask(page, 'Add an urgent task to submit the tax return');
    const partial = await seeStreaming(page, id);
    const text = await answerDone(page, id);
    assert.match(text, /^Added task #1 'submit the tax return'/);
    assert.ok(partial.length < text.length);
    assert.equal(await item.locator('.tool-chip').textContent(), 'added task #1 · high');
    await waitForTasks(page, (t) => t.length === 1 && t[0].priority === 'high');
    assert.ok(requests.includes(`POST /api/${user}/chat/stream`), requests.join('\n'));
  });

  test('continues the same conversation with a whole-answer POST /chat', async () => {
    await page.locator('#use-sse').uncheck();
    const { id } = await ask(page, 'Kal doctor ke paas jana hai, task bana do');
    const text = await answerDone(page, id);
    assert.match(text, /^Theek hai, task #2 'doctor ke paas jana' add ho gaya/);
    await waitForTasks(page, (t) => t.length === 2);
    assert.ok(requests.includes(`POST /api/${user}/chat`), requests.join('\n'));

    // Both turns went to one conversation, and the page shows what the server stored.
    const convs = await apiGet(user, `/api/${user}/conversations`);
    assert.equal(convs.data.length, 1);
    const stored = await apiGet(user, `/api/${user}/conversations/${convs.data[0].id}/messages`);
    assert.deepEqual(stored.data.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
    assert.equal(stored.data[3].content, text);
    await page.locator(`#thread-list .thread[data-id="${convs.data[0].id}"]`).waitFor();
    assert.ok(!requests.some((r) => r.startsWith('WS ')), 'the REST page opened no WebSocket');
  });

  test('reloading shows the conversation from the listing endpoints', async () => {
    await page.reload();
    const thread = page.locator('#thread-list .thread').first();
    await thread.click();
    await page.locator('#messages li.message').nth(3).waitFor();
    const texts = await page.locator('#messages li.message .bubble').allTextContents();
    assert.equal(texts[0], 'Add an urgent task to submit the tax return');
    assert.equal(texts[2], 'Kal doctor ke paas jana hai, task bana do');
  });

  test('the realtime page shows the same conversation', async () => {
    const chat = await browser.context.newPage();
    watchErrors(chat, errors);
    await chat.goto(`${BASE}/`);
    await connection(chat, 'online');
    await chat.locator('#thread-list .thread').first().click();
    await chat.locator('#messages li.message').nth(3).waitFor();
    assert.match(await chat.locator('#messages li.message .bubble').nth(3).textContent(), /^Theek hai/);
    await chat.close();
  });

  test('an error answer is shown and the text is kept for a retry', async () => {
    // A token for another user than the one in the path: the server answers 403 forbidden.
    await page.evaluate((token) => {
      const s = JSON.parse(localStorage.getItem('agentwire.session'));
      localStorage.setItem('agentwire.session', JSON.stringify({ ...s, token }));
    }, mintJwt(`${user}-other`));
    await page.reload();
    await page.locator('#use-sse').check();
    await page.locator('#composer-input').fill('add a task that will not be added');
    await page.locator('#composer-input').press('Enter');
    await page.locator('#chat-error', { hasText: 'another user' }).waitFor();
    assert.equal(await page.locator('#composer-input').inputValue(), 'add a task that will not be added');
  });

  test('no page errors or console errors', () => {
    // The 403s of the last test are logged by the browser as failed loads, not page errors.
    const unexpected = errors.filter((e) => !/status of 403/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
