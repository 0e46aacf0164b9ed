// A message sent while the open thread is answering waits its turn (docs/protocol.md, `on_busy`):
// it shows as queued, with its place, on every tab of the user; it can be cancelled there before
// it runs; and it runs once the answer before it ends, in place, as the thread's next message.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, watchErrors } from './lib/browser.js';
import { answerDone, ask, connection, say, signInWithName, waitForTasks } from './lib/page.js';
import { apiGet, BASE, userId } from './lib/server.js';

let browser;
const errors = [];

async function newPage(user) {
  const page = await browser.context.newPage();
  watchErrors(page, errors);
  await page.goto(`${BASE}/`);
  await page.evaluate(() => {
    localStorage.clear();
    sessionStorage.clear();
  });
  await page.reload();
  await signInWithName(page, user);
  await connection(page, 'online');
  return page;
}

const queuedItems = (page) => page.locator('#messages li.message[data-status="queued"]');

/** The place tags of the queued messages shown, in order. */
async function queueTags(page) {
  return queuedItems(page).evaluateAll((items) =>
    items.map((li) => [li.querySelector('.bubble').textContent, li.querySelector('.status-tag').textContent]),
  );
}

async function waitForQueue(page, expected, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let shown = [];
  while (Date.now() < deadline) {
    shown = await queueTags(page);
    if (JSON.stringify(shown) === JSON.stringify(expected)) return;
    await page.waitForTimeout(50);
  }
  assert.fail(`the queue shows ${JSON.stringify(shown)}, not ${JSON.stringify(expected)}`);
}

describe('queued messages', () => {
  before(async () => {
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    assert.deepEqual(errors, []);
  });

  test('a message sent during an answer is queued on every tab, can be cancelled, and runs after it', async () => {
    const user = userId('qamar');
    const page = await newPage(user);
    const first = await ask(page, 'add a task to water the plants');
    await answerDone(page, first.id);
    const threadId = await page.locator('#thread-list .thread[aria-current="true"]').getAttribute('data-id');

    // Another tab of the user has the same thread open.
    const tab = await newPage(user);
    await tab.locator(`#thread-list .thread[data-id="${threadId}"]`).click();
    await tab.locator('#messages li.message').nth(1).waitFor();

    const slow = await ask(page, 'help');
    await say(page, 'add a task to buy bread');
    await say(page, 'add a task to call mom');
    const expected = [
      ['add a task to buy bread', 'Queued · 1'],
      ['add a task to call mom', 'Queued · 2'],
    ];
    await waitForQueue(page, expected);
    await waitForQueue(tab, expected);
    // The answer is still streaming below nothing: the queue comes after it.
    const order = await page
      .locator('#messages li.message')
      .evaluateAll((items) => items.map((li) => li.dataset.status));
    assert.deepEqual(order.slice(-3), ['in_progress', 'queued', 'queued']);

    // Cancelled from the other tab, it goes from both.
    await tab.locator('#messages li.message.queued').nth(1).locator('.cancel-queued').click();
    const left = [['add a task to buy bread', 'Queued · 1']];
    await waitForQueue(page, left);
    await waitForQueue(tab, left);

    // The answer ends; the queued message runs in place, under the same id, and adds its task.
    await answerDone(page, slow.id);
    await waitForQueue(page, []);
    const answers = page.locator('#messages li.message.assistant');
    await answers.nth(2).waitFor({ timeout: 15_000 });
    const third = await answers.nth(2).getAttribute('data-id');
    await answerDone(page, third);
    await waitForTasks(page, (tasks) => tasks.some((t) => t.title === 'buy bread'));
    const stored = (await apiGet(user, `/api/${user}/conversations/${threadId}/messages`)).data;
    assert.deepEqual(
      stored.map((m) => [m.role, m.status]),
      [
        ['user', 'completed'],
        ['assistant', 'completed'],
        ['user', 'completed'],
        ['assistant', 'completed'],
        ['user', 'completed'],
        ['assistant', 'completed'],
      ],
    );
    assert.equal(stored[4].content, 'add a task to buy bread');
    const shown = await page
      .locator('#messages li.message')
      .evaluateAll((items) => items.map((li) => li.dataset.id));
    assert.deepEqual(shown, stored.map((m) => m.id));
    const tasks = (await apiGet(user, `/api/${user}/tasks`)).data.map((t) => t.title);
    assert.deepEqual(tasks.sort(), ['buy bread', 'water the plants']);
    await page.close();
    await tab.close();
  });
});
