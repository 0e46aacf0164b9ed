// The chat page over the WebSocket: sign-in, English and Roman Urdu turns streaming in, the
// tasks panel, stopping a stream, the composer's limits, phone width and dark mode, and the
// README screenshot.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launch, watchErrors } from './lib/browser.js';
import {
  answerDone,
  ask,
  connection,
  seeStreaming,
  signInWithName,
  waitForTasks,
} from './lib/page.js';
import { apiGet, BASE, userId } from './lib/server.js';

const user = userId('ayesha');
let browser;
let page;
let errors;

/** Tomorrow as YYYY-MM-DD in the server's (UTC) calendar. */
function tomorrowUtc() {
  return new Date(Date.now() + 24 * 3600 * 1000).toISOString().slice(0, 10);
}

describe('chat page', () => {
  before(async () => {
    browser = await launch();
    page = await browser.context.newPage();
    errors = watchErrors(page);
  });

  after(async () => {
    await browser?.close();
  });

  test('signs in with a name, by keyboard, and connects', async () => {
    await page.goto(`${BASE}/`);
    await signInWithName(page, user);
    await connection(page, 'online');
    assert.equal(await page.locator('#conn-text').textContent(), 'Connected');
    assert.match(await page.locator('#greeting').textContent(), new RegExp(`Hi ${user}`));
    // The start screen offers prompts in both languages.
    const chips = await page.locator('.prompt-chips .chip').allTextContents();
    assert.ok(chips.includes('Kal doctor ke paas jana hai, task bana do'), chips.join(' | '));
    assert.ok(chips.some((c) => /^[A-Z][a-z]+ a high priority task/.test(c)), chips.join(' | '));
    // The composer has focus after sign-in: keyboard users can type at once.
    assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input');
  });

  test('an English message streams its answer, shows a tool chip and adds to the tasks panel', async () => {
    const { id, item } = await ask(page, 'Add a high priority task to prepare the meeting slides');
    const partial = await seeStreaming(page, id);
    const text = await answerDone(page, id);
    assert.equal(text, "Added task #1 'prepare the meeting slides' (high priority).");
    assert.ok(text.startsWith(partial.trim()) && partial.length < text.length, `partial ${partial}`);
    assert.deepEqual(await item.locator('.tool-chip').allTextContents(), ['added task #1 · high']);

    const tasks = await waitForTasks(page, (t) => t.length === 1);
    assert.deepEqual(tasks[0], {
      number: 1,
      title: 'prepare the meeting slides',
      priority: 'high',
      done: false,
      due: null,
    });
    // The new thread is open, listed and titled after the first message.
    const threads = await page.locator('#thread-list .thread').all();
    assert.equal(threads.length, 1);
    assert.equal(await threads[0].getAttribute('aria-current'), 'true');
    assert.match(await threads[0].textContent(), /Add a high priority task/);
  });

  test('a Roman Urdu message in the same thread is answered in Roman Urdu with a due date', async () => {
    const { id, item } = await ask(page, 'Kal doctor ke paas jana hai, task bana do');
    await seeStreaming(page, id);
    const text = await answerDone(page, id);
    assert.match(text, /^Theek hai, task #2 'doctor ke paas jana' add ho gaya/);
    assert.match(await item.locator('.tool-chip').textContent(), /^added task #2 · medium$/);
    const tasks = await waitForTasks(page, (t) => t.length === 2);
    const doctor = tasks.find((t) => t.number === 2);
    assert.equal(doctor.title, 'doctor ke paas jana');
    assert.equal(doctor.due, tomorrowUtc());
    // Both turns are in one thread, as the server stored them.
    assert.equal(await page.locator('#thread-list .thread').count(), 1);
    assert.equal(await page.locator('#messages li.message').count(), 4);

    await page.locator('#composer-input').blur();
    await mkdir(dirname(process.env.E2E_SCREENSHOT || 'x'), { recursive: true });
    if (process.env.E2E_SCREENSHOT) {
      await page.screenshot({ path: process.env.E2E_SCREENSHOT });
    }
  });

  test('completing a task over chat updates the panel live', async () => {
    const { id, item } = await ask(page, 'mark task 1 as done');
    await answerDone(page, id);
    assert.match(await item.locator('.tool-chip').textContent(), /^completed task #1 · high$/);
    const tasks = await waitForTasks(page, (t) => t.find((x) => x.number === 1)?.done === true);
    // Completed tasks sort after open ones.
    assert.deepEqual(tasks.map((t) => t.number), [2, 1]);
    assert.equal(await page.locator('#task-count').textContent(), '1 open');
  });

  test('the stop button cancels a streaming answer and keeps what was said', async () => {
    // A new chat from the start screen, with a long answer: the list of every task.
    await page.locator('#new-chat').click();
    await page.locator('#start').waitFor();
    await ask(page, 'Add a task to water the plants');
    await page.locator('#messages li.message.assistant[data-status="completed"]').waitFor();
    await ask(page, 'Add a task to call the plumber about the kitchen sink');
    await page.locator('#messages li.message.assistant[data-status="completed"] >> nth=1').waitFor();

    const { id } = await ask(page, 'show all my tasks');
    await seeStreaming(page, id);
    const stop = page.locator('#stop');
    assert.equal(await stop.isVisible(), true);
    assert.equal(await page.locator('#send').isDisabled(), true, 'no second turn while one runs');
    await stop.click();
    const kept = await answerDone(page, id, 'cancelled');
    assert.equal(await page.locator(`li[data-id="${id}"] .status-tag`).textContent(), 'Stopped');
    await stop.waitFor({ state: 'hidden' });

    // The server stored exactly what the page shows, marked cancelled.
    const threadId = await page.locator('#thread-list .thread[aria-current="true"]').getAttribute('data-id');
    const stored = await apiGet(user, `/api/${user}/conversations/${threadId}/messages`);
    const last = stored.data[stored.data.length - 1];
    assert.equal(last.status, 'cancelled');
    assert.equal(last.content, kept);
    assert.ok(!kept.includes('#4'), 'the stream was stopped before the end of the list');

    // The thread takes a new message after the stop.
    const next = await ask(page, 'show all my tasks');
    const full = await answerDone(page, next.id);
    assert.match(full, /#4 call the plumber/);
  });

  test('Escape stops a stream from the keyboard', async () => {
    const { id } = await ask(page, 'show all my tasks');
    await seeStreaming(page, id);
    await page.locator('#composer-input').press('Escape');
    await answerDone(page, id, 'cancelled');
  });

  test('the composer counts characters, refuses past 2000, and Shift+Enter is a new line', async () => {
    const input = page.locator('#composer-input');
    const counter = page.locator('#composer-counter');
    const send = page.locator('#send');
    const before = await page.locator('#messages li.message').count();

    await input.fill('x'.repeat(2000));
    assert.equal(await counter.textContent(), '2000 / 2000');
    assert.equal(await send.isDisabled(), false);
    await input.press('End');
    await page.keyboard.type('y');
    assert.equal(await counter.textContent(), '2001 / 2000 · 1 too many');
    assert.equal(await send.isDisabled(), true);
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    await input.press('Enter'); // refused: nothing is sent, the text stays
    assert.equal((await input.inputValue()).length, 2001);
    // Characters, not UTF-16 units: an emoji counts once, as the server counts it.
    await input.fill('😀'.repeat(2000));
    assert.equal(await counter.textContent(), '2000 / 2000');

    await input.fill('first line');
    await input.press('Shift+Enter');
    await page.keyboard.type('second line');
    assert.equal(await input.inputValue(), 'first line\nsecond line');
    await page.waitForTimeout(300);
    assert.equal(await page.locator('#messages li.message').count(), before, 'Shift+Enter sent nothing');
    await input.fill('   ');
    assert.equal(await send.isDisabled(), true, 'blank messages are not sent');
    await input.fill('');
  });

  test('reopening a thread from the list loads it with thread.load', async () => {
    const first = page.locator('#thread-list .thread').last();
    await first.click();
    await page.locator('#messages li.message').nth(5).waitFor();
    const texts = await page.locator('#messages li.message .bubble').allTextContents();
    assert.equal(texts[0], 'Add a high priority task to prepare the meeting slides');
    assert.match(texts[3], /^Theek hai, task #2/);
    assert.equal(await first.getAttribute('aria-current'), 'true');
  });

  test('is usable at phone width, in dark mode, with side panels behind toggles', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.emulateMedia({ colorScheme: 'dark' });
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    const tasksPanel = page.locator('#tasks');
    assert.equal(await tasksPanel.isVisible(), false);
    const toggle = page.locator('#toggle-tasks');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal(await tasksPanel.isVisible(), true);
    await page.keyboard.press('Escape');
    assert.equal(await tasksPanel.isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'toggle-tasks');

    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(bg, lightBg, 'dark and light schemes differ');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('every control is labelled and reachable by Tab', async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('#app button, #app textarea, #app input')]
        .filter((e) => e.offsetParent !== null)
        .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()))
        .map((e) => e.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unlabelled, []);
    // Tabbing from the top reaches the composer, through the thread list, in page order.
    // Start from the top of the document, as after a fresh load with nothing focused.
    await page.evaluate(() => {
      document.body.tabIndex = -1;
      document.body.focus();
      document.body.removeAttribute('tabindex');
    });
    const seen = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => document.activeElement.id || document.activeElement.className);
      seen.push(id);
      if (id === 'composer-input') break;
    }
    assert.equal(seen[0], 'skip-link');
    assert.ok(seen.includes('new-chat'), seen.join(','));
    assert.ok(seen.indexOf('new-chat') < seen.indexOf('composer-input'), seen.join(','));
  });

  test('no page errors or console errors', () => {
    assert.deepEqual(errors, []);
  });
});
