// DOM building shared by both pages: messages, tool-call chips and small formatting helpers.
// Text always goes in through textContent, never as HTML; an assistant's answer is Markdown,
// rendered and sanitised by markdown.js.

import { lastBlock, renderMarkdown } from './markdown.js';

/** Creates an element with attributes (`class`, `dataset` object, others as attributes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const CHANGE_VERBS = {
  added: 'added',
  updated: 'updated',
  completed: 'completed',
  deleted: 'deleted',
};

/** The chip text of one tool call: "added task #3 · high", "listed 4 tasks", "no match for …". */
export function toolChipText(call) {
  const r = call.result || {};
  const task = r.task;
  if (r.ok && r.change && task) {
    return `${CHANGE_VERBS[r.change] || r.change} task #${task.number} · ${task.priority}`;
  }
  if (r.ok && task && r.note) return `task #${task.number} · ${r.note}`;
  if (r.ok && Array.isArray(r.tasks)) {
    const n = typeof r.count === 'number' ? r.count : r.tasks.length;
    return `listed ${n} task${n === 1 ? '' : 's'}`;
  }
  if (r.ok === false) {
    if (r.error === 'not_found') return `no task matches “${r.query ?? ''}”`;
    if (r.error === 'ambiguous') return `${(r.candidates || []).length} tasks match · asked which`;
    if (r.error === 'nothing_to_change') return `task #${task ? task.number : '?'} · nothing to change`;
    return `${call.tool_name} failed`;
  }
  return call.tool_name;
}

/** A compact chip for a tool call; the full arguments and result are in its tooltip. */
export function toolChip(call) {
  const ok = call.result && call.result.ok !== false;
  return el('li', {
    class: `tool-chip ${ok ? 'ok' : 'failed'}`,
    title: `${call.tool_name}(${JSON.stringify(call.arguments)})`,
    text: toolChipText(call),
  });
}

const STATUS_LABELS = {
  cancelled: 'Stopped',
  failed: 'Failed',
  interrupted: 'Interrupted',
  queued: 'Queued',
};

/**
 * The list item of a message. `message` has id, role, content, tool_calls and status; an
 * assistant message that is `in_progress` is shown as streaming.
 */
export function messageItem(message) {
  const item = el('li', {
    class: `message ${message.role}`,
    dataset: { id: message.id, role: message.role },
  });
  drawMessageItem(item, message);
  return item;
}

// A streaming answer changes with every delta, and drawing it parses all its Markdown again:
// it is drawn at most once per animation frame, with the newest state. Any other change is drawn
// at once and drops the item's pending draw, whose state is older.
const pendingDraws = new Map(); // item → the message to draw at the next frame
let drawScheduled = false;

/** Brings an existing message item up to date with `message`. */
export function updateMessageItem(item, message) {
  if (message.status !== 'in_progress') {
    pendingDraws.delete(item);
    drawMessageItem(item, message);
    return;
  }
  pendingDraws.set(item, message);
  if (drawScheduled) return;
  drawScheduled = true;
  // A hidden tab gets no animation frames; it still catches up, less often.
  if (document.hidden) setTimeout(drawPending, 250);
  else requestAnimationFrame(drawPending);
}

function drawPending() {
  drawScheduled = false;
  const draws = [...pendingDraws];
  pendingDraws.clear();
  for (const [item, message] of draws) {
    if (!item.isConnected) continue; // its thread was closed or reloaded meanwhile
    drawMessageItem(item, message);
    // The page scrolled to the end when the delta came, before the text grew.
    if (!item.nextElementSibling) item.scrollIntoView({ block: 'end' });
  }
}

function drawMessageItem(item, message) {
  const streaming = message.status === 'in_progress';
  item.replaceChildren(
    el('span', { class: 'visually-hidden', text: message.role === 'user' ? 'You:' : 'Assistant:' }),
  );
  item.dataset.status = message.status || 'completed';
  item.setAttribute('aria-busy', streaming ? 'true' : 'false');
  const calls = message.tool_calls || [];
  if (calls.length) {
    item.append(el('ul', { class: 'tool-chips', 'aria-label': 'Actions taken' }, ...calls.map(toolChip)));
  }
  const content = message.content || '';
  let text;
  if (message.role === 'assistant') {
    // The source stays on the bubble: it is what streamed, whatever it renders to.
    text = el('div', { class: 'bubble markdown', dataset: { source: content } });
    renderMarkdown(text, content);
  } else {
    text = el('div', { class: 'bubble', text: content });
  }
  if (streaming) lastBlock(text).append(el('span', { class: 'cursor', 'aria-hidden': 'true' }));
  if (message.content || streaming || !calls.length) item.append(text);
  const label = STATUS_LABELS[message.status];
  if (label) item.append(el('span', { class: `status-tag ${message.status}`, text: label }));
}

/** "12:04" today, "3 Jan" otherwise. */
export function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  return d.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

/** The code-point length of a message as the server counts it (characters after trimming). */
export function messageLength(text) {
  return [...text.trim()].length;
}

export const MAX_MESSAGE_CHARS = 2000;

/**
 * Wires a composer textarea: Enter sends, Shift+Enter (or an IME composition) makes a new line,
 * the counter shows the length, and `canSend()` gates the send button. Returns `refresh()`.
 */
export function bindComposer({ input, counter, sendButton, onSend, canSend }) {
  const refresh = () => {
    const n = messageLength(input.value);
    const over = n > MAX_MESSAGE_CHARS;
    counter.textContent = over
      ? `${n} / ${MAX_MESSAGE_CHARS} · ${n - MAX_MESSAGE_CHARS} too many`
      : `${n} / ${MAX_MESSAGE_CHARS}`;
    counter.classList.toggle('over', over);
    input.setAttribute('aria-invalid', over ? 'true' : 'false');
    sendButton.disabled = n === 0 || over || !canSend();
    // Grow with the text, up to the CSS max-height.
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight}px`;
  };
  input.addEventListener('input', refresh);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      if (!sendButton.disabled) onSend();
    }
  });
  sendButton.form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!sendButton.disabled) onSend();
  });
  refresh();
  return refresh;
}

/**
 * The side panels (thread list, tasks) slide over the chat on narrow screens, each behind a
 * toggle button with aria-expanded; on wide screens CSS shows both and hides the toggles.
 * Returns `closePanels()`.
 */
export function bindPanels(pairs) {
  const set = ([button, panel], open) => {
    panel.dataset.open = String(open);
    button.setAttribute('aria-expanded', String(open));
  };
  const closeAll = () => pairs.forEach((p) => set(p, false));
  for (const pair of pairs) {
    pair[0].addEventListener('click', () => {
      const open = pair[1].dataset.open !== 'true';
      closeAll();
      set(pair, open);
      if (open) pair[1].querySelector('button, [href], input')?.focus();
    });
  }
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    const open = pairs.find(([, panel]) => panel.dataset.open === 'true');
    if (!open) return;
    closeAll();
    open[0].focus();
  });
  return closeAll;
}

/** The panel toggles only make sense once signed in. */
export function showPanelToggles(visible) {
  for (const b of document.querySelectorAll('.panel-toggle')) b.hidden = !visible;
}
