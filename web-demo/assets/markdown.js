// Assistant answers as Markdown: models write lists, emphasis, code and tables.
//
// An answer is untrusted text, so it goes through two independent layers before it is shown:
// marked turns it into HTML with any raw HTML in it escaped (a `<script>` the model wrote is
// shown as text, as chat apps do), then DOMPurify keeps only the tags and attributes Markdown
// produces and only http(s) and mailto links. The result is inserted as nodes, never as an HTML
// string, and the pages' CSP requires Trusted Types, so DOMPurify's policy is the only way any
// HTML string reaches the DOM. Without DOMPurify (a script that failed to load) the answer is
// shown as plain text rather than unsanitised.

import { Marked } from './vendor/marked.esm.js';

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const marked = new Marked({
  async: false,
  gfm: true,
  // Chat answers mean a line break where they have one.
  breaks: true,
  renderer: {
    html({ text, block }) {
      return block ? `<p>${escapeHtml(text)}</p>` : escapeHtml(text);
    },
  },
});

/** What Markdown renders to; anything else a model might smuggle in is dropped. */
const SANITIZE = {
  // Images are left out on purpose: an image URL a model writes would be fetched by the page,
  // which is how prompt injection leaks a conversation.
  ALLOWED_TAGS: [
    'p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'strong', 'em', 'del', 'code', 'pre',
    'blockquote', 'ul', 'ol', 'li', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'input',
  ],
  // `type`, `checked`, `disabled`: GFM task-list boxes; `align`: table columns.
  ALLOWED_ATTR: ['href', 'title', 'start', 'align', 'type', 'checked', 'disabled'],
  // A value with a scheme must be http(s) or mailto. DOMPurify tests every attribute's value
  // against this, hence the second half: values without a scheme (a title, a relative link).
  ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  RETURN_DOM_FRAGMENT: true,
};

const purify = window.DOMPurify;
if (purify?.isSupported) {
  purify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A' && node.hasAttribute('href')) {
      // Links open in a new tab, with no handle back to this page and no referrer.
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    } else if (node.tagName === 'INPUT') {
      // Task-list boxes show state; they are not a form.
      node.setAttribute('type', 'checkbox');
      node.setAttribute('disabled', '');
    }
  });
}

/** Replaces the content of `target` with `source` rendered as sanitised Markdown. */
export function renderMarkdown(target, source) {
  if (!purify?.isSupported) {
    target.textContent = source;
    return;
  }
  const html = marked.parse(source).trim();
  target.replaceChildren(purify.sanitize(html, SANITIZE));
}

/** Blocks whose text a streaming cursor may follow on the same line. */
const CURSOR_HOSTS = new Set(['P', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6']);

/**
 * The innermost block that ends a rendered answer, where its streaming cursor goes: inside the
 * last paragraph or list item rather than on a line of its own below it.
 */
export function lastBlock(target) {
  let block = target;
  for (;;) {
    const last = block.lastElementChild;
    if (!last || !CURSOR_HOSTS.has(last.tagName) || last.nextSibling?.textContent.trim()) {
      return block;
    }
    block = last;
  }
}
