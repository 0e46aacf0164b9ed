// The REST chat page (`/rest.html`): the same conversations without a WebSocket. Each message is
// one `POST /api/{user}/chat/stream` read as Server-Sent Events (or `POST /api/{user}/chat` for
// the whole answer at once); listings come from the REST endpoints. A stream that breaks
// mid-answer is resumed with `GET /api/{user}/conversations/{id}/stream` and `Last-Event-ID`.

import { apiFetch, errorOf, fetchAllTasks } from './api.js';
import {
  bindComposer,
  bindPanels,
  showPanelToggles,
  el,
  messageItem,
  shortTime,
  updateMessageItem,
} from './render.js';
import { bindSignIn, clearSession, resumeSession } from './session.js';
import { TaskBoard } from './tasks.js';

const $ = (id) => document.getElementById(id);
const board = new TaskBoard({ list: $('task-list'), empty: $('tasks-empty'), count: $('task-count') });
const ui = {
  input: $('composer-input'),
  messages: $('messages'),
  start: $('start'),
  threadList: $('thread-list'),
  error: $('chat-error'),
  useSse: $('use-sse'),
  send: $('send'),
};

let session = null;
let current = null; // conversation id, null for a new one
let busy = false;
const messages = new Map();

const api = (path) => `/api/${encodeURIComponent(session.user_id)}${path}`;

bindSignIn(
  {
    devForm: $('dev-form'),
    nameInput: $('dev-name'),
    jwtForm: $('jwt-form'),
    jwtInput: $('jwt-input'),
    errorEl: $('signin-error'),
  },
  (s) => start(s),
);

$('sign-out').addEventListener('click', () => {
  clearSession();
  session = null;
  showSignIn('');
});

function showSignIn(notice) {
  $('app').hidden = true;
  showPanelToggles(false);
  $('signin').hidden = false;
  $('who').hidden = true;
  $('sign-out').hidden = true;
  $('signin-error').textContent = notice;
  $('dev-name').focus();
}

function start(s) {
  session = s;
  $('signin').hidden = true;
  showPanelToggles(true);
  $('app').hidden = false;
  $('who').hidden = false;
  $('who').textContent = s.user_id;
  $('sign-out').hidden = false;
  $('greeting').textContent = `Hi ${s.user_id}, what needs doing?`;
  show(null);
  loadThreads();
  loadTasks();
  ui.input.focus();
}

function fail(e) {
  if (e.status === 401) {
    clearSession();
    showSignIn('Your token is no longer accepted. Sign in again.');
    return;
  }
  ui.error.textContent = e.message;
}

async function loadTasks() {
  try {
    await board.load(() => fetchAllTasks(session.user_id, session.token));
  } catch (e) {
    fail(e);
  }
}

async function loadThreads() {
  try {
    const page = await apiFetch(api('/conversations?limit=30'), { token: session.token });
    ui.threadList.replaceChildren(
      ...page.data.map((t) => {
        const button = el(
          'button',
          { type: 'button', class: 'thread', dataset: { id: t.id } },
          el('span', { class: 'thread-title', text: t.title || 'New chat' }),
          el('time', { datetime: t.updated_at, text: shortTime(t.updated_at) }),
        );
        if (t.id === current) button.setAttribute('aria-current', 'true');
        button.addEventListener('click', () => {
          closePanels();
          open(t.id);
        });
        return el('li', {}, button);
      }),
    );
  } catch (e) {
    fail(e);
  }
}

function show(id) {
  current = id;
  messages.clear();
  ui.messages.replaceChildren();
  ui.start.hidden = id !== null;
  ui.messages.hidden = id === null;
  ui.error.textContent = '';
  for (const b of ui.threadList.querySelectorAll('button.thread')) {
    if (b.dataset.id === id) b.setAttribute('aria-current', 'true');
    else b.removeAttribute('aria-current');
  }
}

async function open(id) {
  show(id);
  try {
    await refreshMessages(id);
  } catch (e) {
    fail(e);
  }
  ui.input.focus();
}

/** Draws every stored message of conversation `id` over what is shown (matched by id). */
async function refreshMessages(id) {
  let after = null;
  for (let page = 0; page < 40; page++) {
    const query = new URLSearchParams({ limit: '100' });
    if (after) query.set('after', after);
    const body = await apiFetch(api(`/conversations/${id}/messages?${query}`), {
      token: session.token,
    });
    if (current !== id) return;
    body.data.forEach(upsert);
    if (!body.has_more || !body.after) break;
    after = body.after;
  }
}

function upsert(message) {
  const merged = { tool_calls: [], ...(messages.get(message.id) || {}), ...message };
  messages.set(message.id, merged);
  const item = ui.messages.querySelector(`li[data-id="${CSS.escape(message.id)}"]`);
  if (item) updateMessageItem(item, merged);
  else ui.messages.append(messageItem(merged));
  ui.messages.lastElementChild?.scrollIntoView({ block: 'end' });
  return merged;
}

// ---- sending ---------------------------------------------------------------------------

const refresh = bindComposer({
  input: ui.input,
  counter: $('composer-counter'),
  sendButton: ui.send,
  canSend: () => Boolean(session) && !busy,
  onSend: () => send(ui.input.value),
});

async function send(text) {
  const content = text.trim();
  if (!content || busy) return;
  busy = true;
  ui.error.textContent = '';
  ui.input.value = '';
  refresh();
  const body = { message: content };
  if (current) body.conversation_id = current;
  try {
    if (ui.useSse.checked) await sendStreaming(body);
    else await sendWhole(body);
  } catch (e) {
    if (!ui.input.value) ui.input.value = content; // give the text back to retry
    fail(e);
  } finally {
    busy = false;
    refresh();
    loadThreads();
  }
}

/** `POST /chat`: the answer arrives whole, so the user's message is drawn locally first. */
async function sendWhole(body) {
  const user = { id: `local-${Date.now()}`, role: 'user', content: body.message, status: 'completed' };
  if (!current) show(null);
  ui.start.hidden = true;
  ui.messages.hidden = false;
  upsert(user);
  const pending = upsert({ id: `local-a-${Date.now()}`, role: 'assistant', content: '', status: 'in_progress' });
  let answer;
  try {
    answer = await apiFetch(api('/chat'), { method: 'POST', token: session.token, body });
  } catch (e) {
    upsert({ ...pending, status: 'failed', content: '' });
    throw e;
  }
  current = answer.conversation_id;
  upsert({ ...pending, content: answer.message, tool_calls: answer.tool_calls, status: 'completed' });
  loadTasks();
}

const RESUME_TRIES = 8;
const RESUME_BACKOFF_MS = [250, 500, 1000, 2000, 4000];

/**
 * `POST /chat/stream`: the turn's events as SSE, applied as they come. When the stream breaks
 * before the answer is complete, the rest of the turn is asked for with
 * `GET /conversations/{id}/stream` and the id of the last event applied (`Last-Event-ID`; ids
 * number the turn's events from 1), retried with backoff; an event already applied is skipped
 * by its id. 204 there means the turn ended meanwhile: its stored messages are drawn instead.
 */
async function sendStreaming(body) {
  let response;
  try {
    response = await fetch(api('/chat/stream'), {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${session.token}`,
        'Content-Type': 'application/json',
        Accept: 'text/event-stream',
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new Error('the server could not be reached');
  }
  if (!response.ok) throw await errorOf(response);
  const turn = { conversation: body.conversation_id || null, lastId: 0, done: false, error: null };
  await readTurn(response, turn);
  for (let tries = 0; !turn.done && !turn.error; tries++) {
    if (!turn.conversation || tries >= RESUME_TRIES) {
      throw new Error('the stream broke before the answer was complete');
    }
    await sleep(RESUME_BACKOFF_MS[Math.min(tries, RESUME_BACKOFF_MS.length - 1)]);
    const headers = { Authorization: `Bearer ${session.token}`, Accept: 'text/event-stream' };
    if (turn.lastId) headers['Last-Event-ID'] = String(turn.lastId);
    try {
      response = await fetch(api(`/conversations/${turn.conversation}/stream`), { headers });
    } catch {
      continue; // still unreachable: try again
    }
    if (response.status === 204) {
      await refreshMessages(turn.conversation);
      loadTasks();
      return;
    }
    if (!response.ok) throw await errorOf(response);
    const before = turn.lastId;
    await readTurn(response, turn);
    if (turn.lastId > before) tries = -1; // it moved on: a later break starts the count again
  }
  if (!turn.done) throw new Error(turn.error);
}

/** Applies the events of one SSE response to `turn` until it ends or breaks. */
async function readTurn(response, turn) {
  try {
    for await (const { id, event, data } of sseEvents(response.body)) {
      if (id !== null) {
        if (id <= turn.lastId) continue;
        turn.lastId = id;
      }
      if (data.conversation_id) turn.conversation = data.conversation_id;
      if (event === 'error') turn.error = data.message;
      if (applyEvent(event, data)) turn.done = true;
    }
  } catch {
    // The connection broke; the caller resumes.
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Applies one SSE event; returns true for the final `message.done`. */
function applyEvent(type, data) {
  switch (type) {
    case 'thread.created':
      if (!current) show(data.thread.id);
      current = data.thread.id;
      return false;
    case 'message.added':
      if (data.thread_id === current) upsert(data.message);
      return false;
    case 'stream.delta': {
      const m = messages.get(data.message_id);
      if (m) upsert({ ...m, content: m.content + data.delta });
      return false;
    }
    case 'tool.called': {
      const m = messages.get(data.message_id);
      const call = { tool_name: data.tool_name, arguments: data.arguments, result: data.result };
      if (m) upsert({ ...m, tool_calls: [...m.tool_calls, call] });
      return false;
    }
    case 'task.changed':
      board.change(data.change, data.task);
      return false;
    case 'message.done':
      upsert(data.message);
      $('announcer').textContent = `Assistant: ${data.message.content}`;
      return data.status === 'complete';
    case 'error':
      ui.error.textContent = data.message;
      return false;
    default:
      return false;
  }
}

/** Parses a `text/event-stream` body into {id, event, data}: data as JSON, id a number or null. */
async function* sseEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let id = null;
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('id:')) id = Number(line.slice(3).trim());
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (!data.length) continue; // a keep-alive comment
      if (!Number.isSafeInteger(id) || id < 1) id = null;
      try {
        yield { id, event, data: JSON.parse(data.join('\n')) };
      } catch {
        // Not JSON: not one of ours; skip it.
      }
    }
  }
}

// ---- the rest of the page --------------------------------------------------------------

$('new-chat').addEventListener('click', () => {
  closePanels();
  show(null);
  ui.input.focus();
});
$('refresh-threads').addEventListener('click', () => {
  loadThreads();
  loadTasks();
});
for (const chip of document.querySelectorAll('.chip[data-prompt]')) {
  chip.addEventListener('click', () => {
    ui.input.value = chip.dataset.prompt;
    refresh();
    send(ui.input.value);
    ui.input.focus();
  });
}
const closePanels = bindPanels([
  [$('toggle-threads'), $('threads')],
  [$('toggle-tasks'), $('tasks')],
]);

const resumed = await resumeSession();
if (resumed.session) start(resumed.session);
else showSignIn(resumed.notice);
