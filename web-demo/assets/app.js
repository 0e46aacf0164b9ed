// The chat page (`/`): thread list, the open thread, composer and tasks panel over one socket.
//
// The socket's events are the truth: nothing is drawn optimistically. A thread is (re)loaded
// with `thread.load` when opened and after every reconnect; events for it that arrive while the
// load is in flight are held back and applied after, so nothing is missed or shown twice.

import { fetchAllTasks } from './api.js';
import { bindComposer, bindPanels, el, shortTime, showPanelToggles } from './render.js';
import {
  bindSignIn,
  clearSession,
  loadSession,
  renewSession,
  resumeSession,
} from './session.js';
import { Connection, socketUrl } from './socket.js';
import { TaskBoard } from './tasks.js';
import { OpenThread } from './thread.js';

const $ = (id) => document.getElementById(id);

const ui = {
  signin: $('signin'),
  app: $('app'),
  conn: $('conn'),
  connText: $('conn-text'),
  who: $('who'),
  signOut: $('sign-out'),
  threadList: $('thread-list'),
  moreThreads: $('more-threads'),
  newChat: $('new-chat'),
  start: $('start'),
  greeting: $('greeting'),
  messages: $('messages'),
  threadTitle: $('thread-title'),
  input: $('composer-input'),
  counter: $('composer-counter'),
  send: $('send'),
  stop: $('stop'),
  chatError: $('chat-error'),
  announcer: $('announcer'),
};

const board = new TaskBoard({ list: $('task-list'), empty: $('tasks-empty'), count: $('task-count') });
const open = new OpenThread(ui.messages);

/** Everything the page knows; rebuilt on sign-in. */
let s = null;

function freshState(session) {
  return {
    session,
    conn: null,
    threads: new Map(),
    threadsAfter: null,
    current: null, // the open thread's id, null on the start screen
    running: new Set(), // thread ids with a turn in progress
    pendingNew: null, // request_id of a message that will create a thread
  };
}

// ---- sign-in ---------------------------------------------------------------------------

bindSignIn(
  {
    devForm: $('dev-form'),
    nameInput: $('dev-name'),
    jwtForm: $('jwt-form'),
    jwtInput: $('jwt-input'),
    errorEl: $('signin-error'),
  },
  (session) => start(session),
);

ui.signOut.addEventListener('click', () => {
  if (s && s.conn) s.conn.stop();
  clearSession();
  s = null;
  showSignIn('');
});

function showSignIn(notice) {
  ui.app.hidden = true;
  showPanelToggles(false);
  ui.signin.hidden = false;
  ui.who.hidden = true;
  ui.signOut.hidden = true;
  $('signin-error').textContent = notice;
  setConn('idle');
  $('dev-name').focus();
}

function start(session) {
  if (s && s.conn) s.conn.stop();
  s = freshState(session);
  ui.signin.hidden = true;
  showPanelToggles(true);
  ui.app.hidden = false;
  ui.who.hidden = false;
  ui.who.textContent = session.user_id;
  ui.signOut.hidden = false;
  ui.greeting.textContent = `Hi ${session.user_id}, what needs doing?`;
  showThread(null);
  renderThreads();
  board.tasks.clear();
  board.render();

  const conn = new Connection({
    url: socketUrl(),
    token: () => s.session.token,
    renew: async () => {
      const renewed = await renewSession(s.session);
      if (!renewed) return null;
      s.session = renewed;
      return renewed.token;
    },
  });
  s.conn = conn;
  conn.addEventListener('state', (e) => {
    setConn(e.detail.state, e.detail.retryIn);
    refreshComposer();
  });
  conn.addEventListener('ready', (e) => onReady(e.detail.reconnected));
  conn.addEventListener('frame', (e) => onFrame(e.detail));
  conn.addEventListener('auth-failed', () => {
    clearSession();
    s = null;
    showSignIn('The server refused the token. Sign in again.');
  });
  conn.start();
  ui.input.focus();
}

// ---- connection ------------------------------------------------------------------------

const CONN_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  online: 'Connected',
  reconnecting: 'Connection lost · reconnecting…',
};

function setConn(state, retryIn = 0) {
  ui.conn.dataset.state = state;
  ui.connText.textContent =
    state === 'reconnecting' && retryIn
      ? `Connection lost · retrying in ${Math.max(1, Math.round(retryIn / 1000))} s`
      : CONN_TEXT[state];
}

async function onReady(reconnected) {
  const mine = s;
  if (reconnected) announce('Reconnected.');
  // Turns that were running may have finished while the socket was down; the reloads below
  // say which still are.
  mine.running.clear();
  loadTasks();
  try {
    await loadThreads(false);
  } catch (e) {
    showError(`Could not list conversations: ${e.message}`);
  }
  if (mine === s && s.current) await openThread(s.current, { keepFocus: true });
}

async function loadTasks() {
  const { user_id, token } = s.session;
  try {
    await board.load(() => fetchAllTasks(user_id, token));
  } catch (e) {
    showError(`Could not load tasks: ${e.message}`);
  }
}

// ---- threads ---------------------------------------------------------------------------

async function loadThreads(more) {
  const frame = { type: 'threads.list', limit: 30 };
  if (more && s.threadsAfter) frame.after = s.threadsAfter;
  const answer = await s.conn.request(frame);
  if (!more) s.threads.clear();
  for (const t of answer.data) s.threads.set(t.id, t);
  s.threadsAfter = answer.has_more ? answer.after : null;
  renderThreads();
}

ui.moreThreads.addEventListener('click', () =>
  loadThreads(true).catch((e) => showError(e.message)),
);

function renderThreads() {
  const threads = [...(s ? s.threads.values() : [])].sort(
    (a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at),
  );
  ui.threadList.replaceChildren(
    ...threads.map((t) => {
      const button = el(
        'button',
        { type: 'button', class: 'thread', dataset: { id: t.id } },
        el('span', { class: 'thread-title', text: t.title || 'New chat' }),
        el('time', { datetime: t.updated_at, text: shortTime(t.updated_at) }),
      );
      if (s.current === t.id) button.setAttribute('aria-current', 'true');
      if (s.running.has(t.id)) button.classList.add('running');
      button.addEventListener('click', () => {
        closePanels();
        openThread(t.id);
      });
      return el('li', {}, button);
    }),
  );
  ui.moreThreads.hidden = !(s && s.threadsAfter);
}

function touchThread(threadId, at) {
  const t = s.threads.get(threadId);
  if (t && at && Date.parse(at) > Date.parse(t.updated_at)) t.updated_at = at;
  renderThreads();
}

ui.newChat.addEventListener('click', () => {
  closePanels();
  showThread(null);
  ui.input.focus();
});

/** Shows the start screen (`id` null) or an empty view of thread `id`. */
function showThread(id) {
  s.current = id;
  open.reset(id);
  ui.start.hidden = id !== null;
  ui.messages.hidden = id === null;
  const t = id && s.threads.get(id);
  ui.threadTitle.textContent = t && t.title ? t.title : 'Conversation';
  showError('');
  renderThreads();
  refreshComposer();
}

/** Loads every page of thread `id` and shows it; frames for it meanwhile are applied after. */
async function openThread(id, { keepFocus = false } = {}) {
  const mine = s;
  if (s.current !== id) showThread(id);
  open.hold();
  try {
    const messages = [];
    let after = null;
    let answer;
    for (let page = 0; page < 40; page++) {
      const frame = { type: 'thread.load', thread_id: id, limit: 100 };
      if (after) frame.after = after;
      answer = await mine.conn.request(frame);
      messages.push(...answer.messages);
      if (!answer.has_more || !answer.after) break;
      after = answer.after;
    }
    if (mine !== s || s.current !== id) return;
    s.threads.set(id, answer.thread);
    if (answer.running) s.running.add(id);
    else s.running.delete(id);
    ui.threadTitle.textContent = answer.thread.title || 'Conversation';
    for (const frame of open.loaded(messages, answer.running)) onFrame(frame);
    renderThreads();
    open.scrollToEnd();
  } catch (e) {
    if (mine !== s) return;
    if (e.code === 'not_found') {
      s.threads.delete(id);
      showThread(null);
      showError('That conversation no longer exists.');
    } else {
      for (const frame of open.release()) onFrame(frame);
      // Offline, the reconnect's `ready` loads it again.
      if (s.conn.online) showError(`Could not load the conversation: ${e.message}`);
    }
  }
  refreshComposer();
  if (!keepFocus) ui.input.focus();
}

// ---- messages --------------------------------------------------------------------------

function onFrame(frame) {
  if (!s) return;
  const threadId = frame.thread_id || (frame.thread && frame.thread.id);
  const here = Boolean(threadId) && threadId === s.current;
  if (here && open.holds(frame)) return;
  switch (frame.type) {
    case 'thread.created':
      s.threads.set(frame.thread.id, frame.thread);
      if (frame.request_id && frame.request_id === s.pendingNew) {
        s.pendingNew = null;
        showThread(frame.thread.id);
      }
      renderThreads();
      break;
    case 'message.added': {
      const m = frame.message;
      if (m.role === 'assistant' && m.status === 'in_progress') s.running.add(threadId);
      if (here) {
        open.added(m);
        open.scrollToEnd();
      }
      touchThread(threadId, m.created_at);
      break;
    }
    case 'stream.delta':
      s.running.add(threadId);
      if (here) {
        open.delta(frame);
        open.scrollToEnd();
      }
      break;
    case 'tool.called':
      if (here) open.toolCalled(frame);
      break;
    case 'task.changed':
      board.change(frame.change, frame.task);
      break;
    case 'message.done':
      s.running.delete(threadId);
      if (here) {
        open.done(frame.message);
        announce(`Assistant: ${frame.message.content}`);
        open.scrollToEnd();
      }
      touchThread(threadId, new Date().toISOString());
      break;
    case 'error':
      if (frame.request_id && frame.request_id === s.pendingNew) s.pendingNew = null;
      if (frame.code === 'token_expired') break; // the connection refreshes the token
      if (here || !threadId) showError(frame.message);
      break;
    default:
      break;
  }
  refreshComposer();
}

// ---- composer --------------------------------------------------------------------------

function canSend() {
  return Boolean(
    s && s.conn && s.conn.online && !s.pendingNew && !(s.current && s.running.has(s.current)),
  );
}

const refreshInput = bindComposer({
  input: ui.input,
  counter: ui.counter,
  sendButton: ui.send,
  canSend,
  onSend: () => send(ui.input.value),
});

function refreshComposer() {
  refreshInput();
  const running = Boolean(s && s.current && s.running.has(s.current));
  ui.stop.hidden = !running;
  ui.stop.disabled = !(s && s.conn && s.conn.online);
}

function send(text) {
  const content = text.trim();
  if (!content || !canSend()) return;
  const frame = { type: 'message', content };
  if (s.current) frame.thread_id = s.current;
  try {
    const id = s.conn.send(frame);
    if (!s.current) s.pendingNew = id;
  } catch (e) {
    showError(`Not sent: ${e.message}`);
    return;
  }
  showError('');
  ui.input.value = '';
  refreshComposer();
}

function stop() {
  if (!s || !s.current || !s.running.has(s.current)) return;
  try {
    s.conn.send({ type: 'cancel', thread_id: s.current });
  } catch (e) {
    showError(`Could not stop: ${e.message}`);
  }
}

ui.stop.addEventListener('click', () => {
  stop();
  ui.input.focus();
});

ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') stop();
});

for (const chip of document.querySelectorAll('.chip[data-prompt]')) {
  chip.addEventListener('click', () => {
    ui.input.value = chip.dataset.prompt;
    refreshComposer();
    if (canSend()) send(ui.input.value);
    ui.input.focus();
  });
}

// ---- small things ----------------------------------------------------------------------

function showError(message) {
  ui.chatError.textContent = message;
}

function announce(text) {
  ui.announcer.textContent = text;
}

const closePanels = bindPanels([
  [$('toggle-threads'), $('threads')],
  [$('toggle-tasks'), $('tasks')],
]);

// Another tab signing out or in changes the stored session: follow it.
window.addEventListener('storage', (e) => {
  if (e.key !== 'agentwire.session') return;
  const stored = loadSession();
  if (!stored && s) {
    s.conn.stop();
    s = null;
    showSignIn('Signed out in another tab.');
  } else if (stored && s && stored.user_id === s.session.user_id) {
    s.session = stored; // a token renewed by another tab
  } else if (stored && (!s || stored.user_id !== s.session.user_id)) {
    start(stored);
  }
});

const { session, notice } = await resumeSession();
if (session) start(session);
else showSignIn(notice);
