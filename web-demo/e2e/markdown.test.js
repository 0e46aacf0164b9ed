// Answers rendered as Markdown on both pages, from a model the test scripts (a mock
// OpenAI-compatible provider behind a server of this file's own): lists, code blocks and links
// render as they stream in; HTML a model writes is shown as text and never runs; a user's
// message stays plain text.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, watchErrors } from './lib/browser.js';
import { startServer } from './lib/instance.js';
import { MockOpenAi } from './lib/mock-openai.js';
import { answerDone, ask, connection, signInWithName } from './lib/page.js';

const LIST_AND_CODE = 'Plan my Friday, with code';
const CODE_LINE = 'const due = tasks.filter((t) => t.priority < 3 && !t.done);';
const MARKDOWN = [
  'Here is the plan for **Friday**:',
  '',
  '- buy milk',
  '- call the bank',
  '- water the plants',
  '',
  '```js',
  CODE_LINE,
  '```',
  '',
  'More in [the docs](https://example.com/docs).',
].join('\n');

const HOSTILE_PROMPT = 'Show me some HTML';
const SCRIPT = "<script>window.__xss = 'script'</script>";
const IMG = '<img src=x onerror="window.__xss = \'img\'">';
const HOSTILE = [
  'Careful with these:',
  '',
  SCRIPT,
  '',
  `An image ${IMG} inline.`,
  '',
  "[a link](javascript:window.__xss='link') and [another](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTwvc2NyaXB0Pg==)",
  '',
  '<iframe srcdoc="<script>parent.__xss = \'frame\'</script>"></iframe>',
].join('\n');

const USER_MARKDOWN = '**not bold** <b>nor this</b>';

let mock;
let server;
let browser;
let page;
let errors;

/**
 * From the first page load on, watches the message list for anything executable ever entering
 * it, streaming or not: script-bearing elements, `on…` attributes, `javascript:` or `data:`
 * links. Read with `hostileSeen`.
 */
async function watchForHostileNodes(page) {
  await page.addInitScript(() => {
    window.__hostile = [];
    const check = (root) => {
      if (root.nodeType !== Node.ELEMENT_NODE) return;
      for (const el of [root, ...root.querySelectorAll('*')]) {
        if (['SCRIPT', 'IMG', 'IFRAME', 'OBJECT', 'EMBED', 'STYLE'].includes(el.tagName)) {
          window.__hostile.push(el.tagName);
        }
        for (const attr of el.attributes) {
          if (/^on/i.test(attr.name) || /^\s*(javascript|data):/i.test(attr.value)) {
            window.__hostile.push(`${el.tagName} ${attr.name}=${attr.value}`);
          }
        }
      }
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (!r.target.closest?.('#messages')) continue;
        if (r.type === 'attributes') check(r.target);
        for (const n of r.addedNodes) check(n);
      }
    }).observe(document, { childList: true, subtree: true, attributes: true });
  });
}

const hostileSeen = (page) => page.evaluate(() => ({ nodes: window.__hostile, flag: window.__xss }));

/**
 * Waits until answer `id`, still streaming, shows its list with a first item; returns the list's
 * texts then.
 */
async function seeListWhileStreaming(page, id) {
  const handle = await page.waitForFunction((id) => {
    const item = document.querySelector(`#messages li[data-id="${id}"]`);
    if (!item || item.getAttribute('aria-busy') !== 'true') return null;
    const items = [...item.querySelectorAll('.bubble ul > li')].map((li) => li.textContent);
    return items[0] === 'buy milk' ? items : null;
  }, id);
  return handle.jsonValue();
}

/** Checks the rendered list, code block and link of the MARKDOWN answer in `item`. */
async function assertMarkdownRendered(item) {
  const bubble = item.locator('.bubble');
  assert.equal(await bubble.locator('p strong').textContent(), 'Friday');
  assert.deepEqual(await bubble.locator('ul > li').allTextContents(), [
    'buy milk',
    'call the bank',
    'water the plants',
  ]);
  assert.equal(await bubble.locator('pre').count(), 1);
  // The code is text: its `<` and `&&` are shown, not parsed.
  assert.equal((await bubble.locator('pre > code').textContent()).trimEnd(), CODE_LINE);
  const link = bubble.locator('a', { hasText: 'the docs' });
  assert.equal(await link.getAttribute('href'), 'https://example.com/docs');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  // No stray Markdown syntax is left over once rendered.
  assert.doesNotMatch(await bubble.textContent(), /\*\*|```|^- /m);
  assert.equal(await bubble.locator('.cursor').count(), 0);
}

/** Checks that the HOSTILE answer in `item` is shown as text and nothing of it can run. */
async function assertHostileInert(page, item) {
  const bubble = item.locator('.bubble');
  const text = await bubble.textContent();
  assert.ok(text.includes(SCRIPT), `the script tag is shown as text: ${text}`);
  assert.ok(text.includes(IMG), `the img tag is shown as text: ${text}`);
  assert.equal(await bubble.locator('script, img, iframe').count(), 0);
  const links = await bubble.locator('a').evaluateAll((as) =>
    as.map((a) => ({ text: a.textContent, href: a.getAttribute('href') })),
  );
  assert.deepEqual(links, [
    { text: 'a link', href: null },
    { text: 'another', href: null },
  ]);
  const seen = await hostileSeen(page);
  assert.deepEqual(seen.nodes, [], 'nothing executable ever entered the message list');
  assert.equal(seen.flag, undefined, 'no script of the answer ran');
}

describe('Markdown answers', () => {
  before(async () => {
    mock = new MockOpenAi();
    await mock.listen();
    mock.answer(LIST_AND_CODE, MARKDOWN);
    mock.answer(HOSTILE_PROMPT, HOSTILE);
    mock.answer(USER_MARKDOWN, 'Noted.');
    server = await startServer({
      OPENAI_BASE_URL: mock.url,
      OPENAI_API_KEY: 'e2e-key',
      OPENAI_MODEL: 'mock-model',
    });
    browser = await launch();
    page = await browser.context.newPage();
    errors = watchErrors(page);
    await watchForHostileNodes(page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await mock?.close();
  });

  test('the chat page renders a list and a code block, as the answer streams', async () => {
    await page.goto(`${server.url}/`);
    await signInWithName(page, 'mariam');
    await connection(page, 'online');
    const { id, item } = await ask(page, LIST_AND_CODE);
    // The list is drawn while the rest of the answer is still coming.
    await seeListWhileStreaming(page, id);
    assert.equal(await answerDone(page, id), MARKDOWN);
    await assertMarkdownRendered(item);
  });

  test('HTML in an answer is shown as text and never runs on the chat page', async () => {
    const { id, item } = await ask(page, HOSTILE_PROMPT);
    assert.equal(await answerDone(page, id), HOSTILE);
    await assertHostileInert(page, item);
  });

  test("a user's message stays plain text", async () => {
    const { id } = await ask(page, USER_MARKDOWN);
    await answerDone(page, id);
    const mine = page.locator('#messages li.message.user').last();
    assert.equal(await mine.locator('.bubble').textContent(), USER_MARKDOWN);
    assert.equal(await mine.locator('.bubble *').count(), 0);
  });

  test('a reloaded chat page renders the stored answers the same way', async () => {
    await page.reload();
    await connection(page, 'online');
    const answers = page.locator('#messages li.message.assistant');
    await answers.nth(2).waitFor();
    await assertMarkdownRendered(answers.nth(0));
    await assertHostileInert(page, answers.nth(1));
  });

  test('the REST page renders Markdown as it streams over SSE, and keeps HTML inert', async () => {
    await page.goto(`${server.url}/rest.html`);
    await page.locator('#app').waitFor();
    const first = await ask(page, LIST_AND_CODE);
    await seeListWhileStreaming(page, first.id);
    await answerDone(page, first.id);
    await assertMarkdownRendered(first.item);

    const second = await ask(page, HOSTILE_PROMPT);
    await answerDone(page, second.id);
    await assertHostileInert(page, second.item);
  });

  test('the REST page renders a whole answer, and the stored ones after a reload', async () => {
    await page.locator('#use-sse').uncheck();
    const whole = await ask(page, LIST_AND_CODE);
    await answerDone(page, whole.id);
    await assertMarkdownRendered(whole.item);

    await page.reload();
    await page.locator('#thread-list .thread').first().click();
    const answers = page.locator('#messages li.message.assistant');
    await answers.nth(2).waitFor();
    await assertMarkdownRendered(answers.nth(0));
    await assertHostileInert(page, answers.nth(1));
  });

  test('no page errors or console errors (the CSP and Trusted Types included)', () => {
    assert.deepEqual(errors, []);
  });
});
