// One WebSocket for the page (docs/protocol.md): first-frame auth, request/answer pairing by
// `request_id`, reconnection with capped exponential backoff, token refresh before expiry, and
// resuming the event stream where it was after every reconnect.
//
// Events (EventTarget): `state` {state, attempt, retryIn} whenever the connection state changes;
// `ready` {ready, reconnected, recovered} after each successful authentication (and resume);
// `frame` for every server frame that is not the direct answer to a `request()`; `auth-failed`
// when the server refuses the token and no new one can be had.
//
// Resuming: the connection keeps the `pos` of the last frame that had one (while a `frame` event
// is handled, `pos` is still the one before that frame) and sends it as `resume_after` in the
// first `auth` frame of every new socket. `ready` is then announced only once the server's
// `resumed` says how it went: `recovered` true means the frames that follow are exactly the ones
// missed, in order, and apply like live ones; false means they are lost and what is shown must
// be reloaded. Without a position to resume from, `recovered` is null.

const ANSWERS = new Set(['threads', 'thread', 'auth.refreshed', 'pong']);
const READY_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 8_000;

/** Sets request ids of this page apart from those of an earlier load of it (echoed on replays). */
const PAGE_TAG = Math.random().toString(36).slice(2, 7);

export class Connection extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.url            ws:// or wss:// URL of /api/ws
   * @param {() => string} opts.token    the current token
   * @param {() => Promise<string|null>} opts.renew  a fresh token, or null when none can be had
   * @param {string|null} [opts.pos]     the position to resume from on the first connect
   * @param {(pos: string) => void} [opts.onPos]  called whenever the position moves
   */
  constructor({ url, token, renew, pos = null, onPos = () => {} }) {
    super();
    this.url = url;
    this.token = token;
    this.renew = renew;
    this.pos = pos;
    this.onPos = onPos;
    this.resumeAsked = false; // whether the open socket's auth frame had `resume_after`
    this.resuming = null; // the `ready` frame while its `resumed` is awaited
    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.everReady = false;
    this.authFailures = 0;
    this.nextId = 1;
    this.pending = new Map();
    /** Frames of `sendOnce` the server has not acknowledged yet, by request_id. */
    this.unacked = new Map();
    this.timers = { retry: 0, ready: 0, refresh: 0 };
    this.expiresAt = 0;
    this.stopped = true;
    this.onOnline = () => {
      if (this.state === 'reconnecting') this.connectNow();
    };
  }

  /** Opens the socket (and keeps it open until stop()). */
  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connectNow();
  }

  /** Closes the socket for good: no reconnect, pending requests fail. */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    this.clearTimers();
    if (this.ws) this.ws.close(1000, 'signed out');
    this.ws = null;
    this.failPending('the connection was closed');
    this.unacked.clear();
    this.setState('idle');
  }

  get online() {
    return this.state === 'online';
  }

  /** Sends a frame; returns its request_id. Throws when the socket is not ready. */
  send(frame) {
    if (!this.online) throw new Error('not connected');
    const request_id = frame.request_id || `r${PAGE_TAG}-${this.nextId++}`;
    this.ws.send(JSON.stringify({ ...frame, request_id }));
    return request_id;
  }

  /**
   * Sends a `message` frame with a `client_message_id` of its own, and keeps it until the server
   * acknowledges it (`message.added`, `message.queued` or `error` with its request_id): after a reconnect, a frame
   * not yet acknowledged is sent again, the same, and the server answers the turn the first one
   * started (it never runs twice). Returns its request_id; throws when the socket is not ready.
   */
  sendOnce(frame) {
    const request_id = `r${PAGE_TAG}-${this.nextId++}`;
    const once = { ...frame, request_id, client_message_id: newClientId() };
    this.send(once);
    this.unacked.set(request_id, once);
    return request_id;
  }

  /** Sends again every frame of `sendOnce` the server did not acknowledge. */
  resendUnacked() {
    for (const frame of this.unacked.values()) {
      try {
        this.send(frame);
      } catch {
        return;
      }
    }
  }

  /** Sends a frame that has a direct answer (`threads`, `thread`, …); resolves with it. */
  request(frame) {
    return new Promise((resolve, reject) => {
      let id;
      try {
        id = this.send(frame);
      } catch (e) {
        reject(e);
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('the server did not answer in time'));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  connectNow() {
    clearTimeout(this.timers.retry);
    if (this.stopped) return;
    this.setState(this.everReady ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.resuming = null;
    ws.addEventListener('open', () => {
      // First-frame auth keeps the token out of URLs and access logs.
      const auth = { type: 'auth', token: this.token() };
      if (this.pos) auth.resume_after = this.pos;
      this.resumeAsked = Boolean(this.pos);
      ws.send(JSON.stringify(auth));
      this.timers.ready = setTimeout(() => ws.close(4000, 'no ready'), READY_TIMEOUT_MS);
    });
    ws.addEventListener('message', (e) => this.onMessage(ws, e));
    ws.addEventListener('close', (e) => this.onClose(ws, e));
  }

  onMessage(ws, e) {
    if (ws !== this.ws) return;
    let frame;
    try {
      frame = JSON.parse(e.data);
    } catch {
      return;
    }
    if (frame.type === 'ready') {
      this.authFailures = 0;
      this.setExpiry(frame.expires_at);
      if (this.resumeAsked) {
        this.resuming = frame;
        return;
      }
      this.movePos(frame.pos);
      this.announceReady(frame, null);
      return;
    }
    if (this.resuming) {
      // The answer to `resume_after`; a position the server cannot read gets `invalid_frame`.
      const ready = this.resuming;
      if (frame.type === 'resumed') {
        this.resuming = null;
        // Nothing replayed: `ready`'s position says the same, and is fresher (the server judges
        // a position by its age too).
        if (!frame.recovered || !frame.replayed) this.movePos(ready.pos);
        this.announceReady(ready, frame.recovered);
        return;
      }
      if (frame.type === 'error' && frame.code === 'invalid_frame' && !frame.request_id) {
        this.resuming = null;
        this.movePos(ready.pos);
        this.announceReady(ready, false);
        return;
      }
    }
    const acks = frame.type === 'message.added' || frame.type === 'message.queued';
    if (frame.request_id && (acks || frame.type === 'error')) {
      this.unacked.delete(frame.request_id);
    }
    if (frame.type === 'auth.refreshed') this.setExpiry(frame.expires_at);
    if (frame.type === 'error' && frame.code === 'token_expired') this.refreshToken();
    const waiting = frame.request_id && this.pending.get(frame.request_id);
    if (waiting && (ANSWERS.has(frame.type) || frame.type === 'error')) {
      this.pending.delete(frame.request_id);
      clearTimeout(waiting.timer);
      if (frame.type === 'error') {
        const err = new Error(frame.message);
        err.code = frame.code;
        waiting.reject(err);
      } else {
        waiting.resolve(frame);
      }
      return;
    }
    this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
    if (typeof frame.pos === 'string') this.movePos(frame.pos);
  }

  /** The socket is authenticated (and resumed, when it asked to be). */
  announceReady(ready, recovered) {
    clearTimeout(this.timers.ready);
    const reconnected = this.everReady;
    this.everReady = true;
    this.attempt = 0;
    this.setState('online');
    this.dispatchEvent(new CustomEvent('ready', { detail: { ready, reconnected, recovered } }));
    this.resendUnacked();
  }

  movePos(pos) {
    if (!pos || pos === this.pos) return;
    this.pos = pos;
    this.onPos(pos);
  }

  async onClose(ws, e) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.resuming = null;
    clearTimeout(this.timers.ready);
    clearTimeout(this.timers.refresh);
    this.failPending('the connection was lost');
    if (this.stopped) return;
    if (e.code === 4401) {
      // The token was refused or ran out: try once with a fresh one before giving up.
      this.authFailures += 1;
      const token = this.authFailures <= 1 ? await this.safeRenew() : null;
      if (this.stopped) return;
      if (!token) {
        this.stop();
        this.dispatchEvent(new CustomEvent('auth-failed'));
        return;
      }
    }
    this.scheduleReconnect(e.code === 4429 ? BACKOFF_MAX_MS : 0);
  }

  /** Waits min(8 s, 0.5 s · 2^attempt), jittered, before the next try. */
  scheduleReconnect(atLeast = 0) {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.max(atLeast, Math.round(ceiling * (0.5 + Math.random() * 0.5)));
    this.attempt += 1;
    this.setState('reconnecting', delay);
    this.timers.retry = setTimeout(() => this.connectNow(), delay);
  }

  /** Schedules the token refresh: halfway through what is left, at most a minute early. */
  setExpiry(expiresAt) {
    this.expiresAt = expiresAt;
    clearTimeout(this.timers.refresh);
    const left = expiresAt * 1000 - Date.now();
    const margin = Math.min(60_000, left / 2);
    this.timers.refresh = setTimeout(() => this.refreshToken(), Math.max(0, left - margin));
  }

  /** Sends a fresh token over the open socket, when one can be had. */
  async refreshToken() {
    const token = await this.safeRenew();
    if (!token || !this.online) return;
    try {
      await this.request({ type: 'auth', token });
    } catch {
      // The server keeps the old token; `token_expired` or a 4401 close will follow.
    }
  }

  async safeRenew() {
    try {
      return await this.renew();
    } catch {
      return null;
    }
  }

  failPending(message) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(message));
    }
    this.pending.clear();
  }

  clearTimers() {
    for (const t of Object.values(this.timers)) clearTimeout(t);
  }

  setState(state, retryIn = 0) {
    this.state = state;
    this.dispatchEvent(
      new CustomEvent('state', { detail: { state, attempt: this.attempt, retryIn } }),
    );
  }
}

/** A client_message_id: unique per user, 1–64 characters. */
function newClientId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The WebSocket URL of this origin's /api/ws. */
export function socketUrl() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/api/ws`;
}
