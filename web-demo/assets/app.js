// The chat page (`/`): thread list, the open thread, composer and tasks panel over one socket.
//
// The socket's events are the truth: nothing is drawn optimistically. A thread is loaded with
// `thread.load` when opened; events for it that arrive while the load is in flight are held back
// and applied after, so nothing is missed or shown twice. A reconnect resumes the event stream
// where it was: when the server replays exactly what was missed, it is applied like live events
// and nothing is reloaded; when it cannot, everything shown is reloaded. A reloaded page loads
// what it shows and resumes from before the turn it left running, whose answer is then rebuilt
// from the replay (resume.js).

import { fetchAllTasks } from './api.js';
import { bindComposer, bindPanels, el, shortTime, showPanelToggles } from './render.js';
import { StreamMark } from './resume.js';
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
    mark: new StreamMark(session.user_id), // where the event stream stands, for resuming
    synced: false, // whether everything shown has been loaded once on this page
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
  StreamMark.clear();
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
  // A reloaded tab reopens the thread it showed; the first `ready` loads it.
  showThread(s.mark.thread);
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
    pos: s.mark.resumeFrom(),
    onPos: (pos) => s.mark.setPos(pos),
  });
  s.conn = conn;
  conn.addEventListener('state', (e) => {
    setConn(e.detail.state, e.detail.retryIn);
    refreshComposer();
  });
  conn.addEventListener('ready', (e) => onReady(e.detail));
  conn.addEventListener('frame', (e) => onFrame(e.detail));
  conn.addEventListener('auth-failed', () => {
    clearSession();
    StreamMark.clear();
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

/**
 * After (re)authentication. `recovered` true: the frames that follow are exactly what was
 * missed, so a page that has loaded what it shows only applies them. Otherwise (a first
 * connect, or a resume the server could not serve) everything shown is loaded; frames replayed
 * meanwhile for the open thread are held back until its load is in.
 */
async function onReady({ reconnected, recovered }) {
  const mine = s;
  if (reconnected) announce('Reconnected.');
  if (recovered === false) mine.mark.forgetTurns();
  if (recovered === true && mine.synced) return;
  // Before anything is awaited: the replay, if any, comes right after this event.
  if (mine.current) open.hold();
  // Turns that were running may have finished while the socket was down; the replay and the
  // loads below say which still are.
  mine.running.clear();
  loadTasks();
  let ok = true;
  try {
    await loadThreads(false);
  } catch (e) {
    ok = false;
    showError(`Could not list conversations: ${e.message}`);
  }
  if (mine === s && s.current) ok = (await openThread(s.current, { keepFocus: true })) && ok;
  if (mine === s && ok) mine.synced = true;
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
  s.mark.setThread(id);
  open.reset(id);
  ui.start.hidden = id !== null;
  ui.messages.hidden = id === null;
  const t = id && s.threads.get(id);
  ui.threadTitle.textContent = t && t.title ? t.title : 'Conversation';
  showError('');
  renderThreads();
  refreshComposer();
}

/**
 * Loads every page of thread `id` and shows it; frames for it meanwhile are applied after.
 * Returns whether it loaded.
 */
async function openThread(id, { keepFocus = false } = {}) {
  const mine = s;
  if (s.current !== id) showThread(id);
  open.hold();
  let ok = false;
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
    if (mine !== s || s.current !== id) return false;
    ok = true;
    s.threads.set(id, answer.thread);
    if (answer.running) s.running.add(id);
    else {
      s.running.delete(id);
      s.mark.threadIdle(id);
    }
    ui.threadTitle.textContent = answer.thread.title || 'Conversation';
    const held = open.loaded(messages, answer.running);
    for (const m of answer.queued || []) open.queued(m);
    for (const frame of held) applyFrame(frame);
    renderThreads();
    open.scrollToEnd();
  } catch (e) {
    if (mine !== s) return false;
    if (e.code === 'not_found') {
      s.threads.delete(id);
      showThread(null);
      showError('That conversation no longer exists.');
    } else {
      for (const frame of open.release()) applyFrame(frame);
      // Offline, the reconnect's `ready` loads it again.
      if (s.conn.online) showError(`Could not load the conversation: ${e.message}`);
    }
  }
  refreshComposer();
  if (!keepFocus) ui.input.focus();
  return ok;
}

/**
 * Deltas of the open thread's answer `frame.message_id` were lost before `frame`: reload the
 * thread (which has the answer's text so far) and apply `frame` after. When a reload for that
 * answer did not fill the hole, the text goes on with the gap, until `message.done`.
 */
function fillHole(frame) {
  if (open.reloadedFor.has(frame.message_id)) {
    open.forceDelta(frame);
    return;
  }
  open.reloadedFor.add(frame.message_id);
  open.hold();
  open.holds(frame);
  openThread(s.current, { keepFocus: true });
}

// ---- messages --------------------------------------------------------------------------

const threadOf = (frame) => frame.thread_id || (frame.thread && frame.thread.id);

/** A frame from the socket. */
function onFrame(frame) {
  if (!s) return;
  noteTurn(frame, threadOf(frame));
  applyFrame(frame);
}

/** Draws a frame, now or (for the open thread, while it loads) once the load is in. */
function applyFrame(frame) {
  if (!s) return;
  const threadId = threadOf(frame);
  const here = Boolean(threadId) && threadId === s.current;
  if (here && open.holds(frame)) return;
  switch (frame.type) {
    case 'thread.created':
      s.threads.set(frame.thread.id, frame.thread);
      if (frame.request_id && frame.request_id === s.pendingNew) {
        s.pendingNew = null;
        showThread(frame.thread.id);
      } else if (!s.current && !s.pendingNew && s.mark.sent(frame.request_id)) {
        // Sent from this tab before a reload: its replay shows it, as it would have.
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
        if (open.delta(frame) === 'hole') fillHole(frame);
        open.scrollToEnd();
      }
      break;
    case 'tool.called':
      if (here) open.toolCalled(frame);
      break;
    case 'message.queued':
      if (here) {
        open.queued(frame.message);
        open.scrollToEnd();
      }
      break;
    case 'message.unqueued':
      if (here && frame.reason === 'cancelled') open.unqueued(frame.message_id);
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

/**
 * Keeps the turns that run in the tab's mark (resume.js), as their events arrive, held back or
 * not: while a frame is handled the connection's `pos` is still the one before it, which is
 * where a turn started elsewhere is replayed from after a page reload.
 */
function noteTurn(frame, threadId) {
  const mark = s.mark;
  switch (frame.type) {
    case 'thread.created':
      if (!mark.turnNamed(frame.request_id, frame.thread.id)) {
        mark.turnSeen(frame.thread.id, s.conn.pos);
      }
      break;
    case 'message.added':
      if (frame.message.role === 'user') mark.turnSeen(threadId, s.conn.pos);
      break;
    case 'message.done':
      mark.threadIdle(threadId);
      break;
    case 'error':
      if (frame.request_id) mark.refused(frame.request_id);
      // An error of the stream (it has a position) ends its thread's turn.
      if (frame.pos && threadId) mark.threadIdle(threadId);
      break;
    default:
      break;
  }
}

// ---- composer --------------------------------------------------------------------------

/** Whether the composer may send; to a thread that is answering, the message is queued. */
function canSend() {
  return Boolean(s && s.conn && s.conn.online && !s.pendingNew);
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
  // Sent while the thread answers, it waits its turn (shown queued) rather than being refused.
  if (s.current && s.running.has(s.current)) frame.on_busy = 'enqueue';
  try {
    // The position held now is the one before the turn's first event.
    const pos = s.conn.pos;
    // Sent again, the same, after a reconnect until acknowledged: never run twice.
    const id = s.conn.sendOnce(frame);
    s.mark.turnSent(id, s.current, pos);
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

/** Takes a queued message of the open thread off its queue (its `message.unqueued` removes it). */
ui.messages.addEventListener('click', (e) => {
  const cancel = e.target.closest('.cancel-queued');
  if (!cancel || !s || !s.current) return;
  cancel.disabled = true;
  try {
    s.conn.send({ type: 'cancel', thread_id: s.current, message_id: cancel.dataset.id });
  } catch (err) {
    cancel.disabled = false;
    showError(`Could not cancel: ${err.message}`);
  }
});

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
    StreamMark.clear();
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
