// What the tests do on the chat pages, named the way a user would say it.

import assert from 'node:assert/strict';

/** Signs in with the development name form, by keyboard only. */
export async function signInWithName(page, name) {
  await page.locator('#dev-name').waitFor();
  await page.locator('#dev-name').focus();
  await page.keyboard.type(name);
  await page.keyboard.press('Enter');
  await page.locator('#app').waitFor();
}

/** Waits for the connection pill to say `state` (online, reconnecting …). */
export async function connection(page, state, timeout = 15_000) {
  await page.locator(`#conn[data-state="${state}"]`).waitFor({ timeout });
}

/** Types a message in the composer and presses Enter. */
export async function say(page, text) {
  const input = page.locator('#composer-input');
  await input.fill(text);
  await assert.doesNotReject(page.locator('#send:not([disabled])').waitFor());
  await input.press('Enter');
}

const ANSWERS = '#messages li.message.assistant';

// The text of a message as the page holds it: an answer's Markdown source (kept on its bubble as
// `data-source`; markdown.test.js checks what it renders to), a user's message as shown. The
// functions that run in the page spell this out, as they cannot share code with this module.

/**
 * Sends `text` and waits for the assistant's answer to it to appear; returns {id, item}, the
 * answer's message id and its list item.
 */
export async function ask(page, text) {
  const before = await page.locator(ANSWERS).count();
  await say(page, text);
  const item = page.locator(ANSWERS).nth(before);
  await item.waitFor();
  const id = await item.getAttribute('data-id');
  return { id, item: page.locator(`li[data-id="${id}"]`) };
}

/** Waits until answer `id` is final with `status`; returns its text. */
export async function answerDone(page, id, status = 'completed', timeout = 20_000) {
  const item = page.locator(`#messages li[data-id="${id}"][data-status="${status}"]`);
  await item.waitFor({ timeout });
  return item.locator('.bubble').evaluate((b) => b.dataset.source ?? b.textContent);
}

/**
 * Waits until answer `id` is visibly streaming: marked busy, with some text already. Returns the
 * text seen at that moment.
 */
export async function seeStreaming(page, id) {
  const handle = await page.waitForFunction((id) => {
    const item = document.querySelector(`#messages li[data-id="${id}"]`);
    if (!item || item.getAttribute('aria-busy') !== 'true') return null;
    const bubble = item.querySelector('.bubble');
    const text = bubble?.dataset.source ?? bubble?.textContent ?? '';
    return text.trim() ? text : null;
  }, id);
  return handle.jsonValue();
}

/** The tasks panel as [{number, title, priority, done}]. */
export async function tasksShown(page) {
  return page.locator('#task-list li.task').evaluateAll((items) =>
    items.map((li) => ({
      number: Number(li.dataset.number),
      title: li.querySelector('.task-title').textContent,
      priority: li.querySelector('.priority').textContent,
      done: li.classList.contains('done'),
      due: li.querySelector('.due')?.textContent.replace(/^due /, '') || null,
    })),
  );
}

/** Waits until the tasks panel satisfies `predicate(tasks)`. */
export async function waitForTasks(page, predicate, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let tasks = [];
  while (Date.now() < deadline) {
    tasks = await tasksShown(page);
    if (predicate(tasks)) return tasks;
    await page.waitForTimeout(100);
  }
  assert.fail(`the tasks panel never matched; it shows ${JSON.stringify(tasks)}`);
}

/**
 * Records, on every page load from now on, each text an answer's bubble shows as it streams.
 * Read them with `answerTexts`.
 */
export async function recordAnswerTexts(page) {
  await page.addInitScript(() => {
    const seen = {};
    window.__answerTexts = seen;
    new MutationObserver(() => {
      for (const li of document.querySelectorAll('#messages li.message.assistant')) {
        const bubble = li.querySelector('.bubble');
        const text = bubble?.dataset.source ?? bubble?.textContent ?? '';
        const texts = (seen[li.dataset.id] ||= []);
        if (texts[texts.length - 1] !== text) texts.push(text);
      }
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
}

/** Every text answer `id` has shown on the current page load, in order. */
export async function answerTexts(page, id) {
  return page.evaluate((id) => window.__answerTexts?.[id] || [], id);
}

/**
 * Asserts that answer `id` only ever grew towards `final` on this page load: every text it
 * showed is a start of the final text, each at least as long as the one before. A delta shown
 * twice or skipped would break that.
 */
export async function assertStreamedWhole(page, id, final) {
  const texts = await answerTexts(page, id);
  assert.ok(texts.length > 1, `the answer was seen streaming: ${JSON.stringify(texts)}`);
  let before = '';
  for (const text of texts) {
    assert.ok(final.startsWith(text), `shown ${JSON.stringify(text)}, not a start of ${JSON.stringify(final)}`);
    assert.ok(text.length >= before.length, `the text went back from ${JSON.stringify(before)}`);
    before = text;
  }
}

/** Waits until answer `id` streams at least `words` words; returns its text then. */
export async function seeWords(page, id, words) {
  const handle = await page.waitForFunction(
    ([id, words]) => {
      const item = document.querySelector(`#messages li[data-id="${id}"]`);
      if (!item || item.getAttribute('aria-busy') !== 'true') return null;
      const bubble = item.querySelector('.bubble');
      const text = bubble?.dataset.source ?? bubble?.textContent ?? '';
      return text.trim().split(/\s+/).length >= words ? text : null;
    },
    [id, words],
  );
  return handle.jsonValue();
}

/**
 * The WebSocket frames of `page`, one {sent, received} record per socket it opens (parsed
 * JSON), in the order the sockets opened.
 */
export function watchSockets(page) {
  const sockets = [];
  page.on('websocket', (ws) => {
    const record = { url: ws.url(), sent: [], received: [] };
    sockets.push(record);
    ws.on('framesent', (f) => record.sent.push(JSON.parse(f.payload)));
    ws.on('framereceived', (f) => record.received.push(JSON.parse(f.payload)));
  });
  return sockets;
}
