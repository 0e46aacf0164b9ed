// Where this tab's event stream stands, kept in sessionStorage so that a page reload can pick up
// where the page left off (docs/protocol.md section 7).
//
// Two positions matter. `pos` is the last one received: a reconnect resumes from it and gets
// exactly what it missed. But a reloaded page has lost what it had drawn, including the text of
// an answer still streaming, which the store may not have yet. So each send notes the position
// held just before the turn's first event (and so does the first event of a turn started
// elsewhere); while that turn runs, a reload resumes from there and the whole turn is replayed.
// sessionStorage is per tab, as positions are.

const KEY = 'agentwire.stream';

/** Turns noted longer ago than this are dropped: the server keeps far less history. */
const TURN_MAX_AGE_MS = 30 * 60 * 1000;

export class StreamMark {
  /** The mark saved for `userId` in this tab, or an empty one. */
  constructor(userId) {
    this.user_id = userId;
    this.pos = null;
    this.thread = null; // the open thread
    this.turns = []; // [{rid, thread, pos, at}] sent from this tab and not known to have ended
    let saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    } catch {
      // A damaged entry is the same as none.
    }
    if (saved && saved.user_id === userId) {
      this.pos = typeof saved.pos === 'string' ? saved.pos : null;
      this.thread = typeof saved.thread === 'string' ? saved.thread : null;
      const now = Date.now();
      this.turns = (Array.isArray(saved.turns) ? saved.turns : []).filter(
        (t) => t && typeof t.pos === 'string' && now - t.at < TURN_MAX_AGE_MS,
      );
    }
  }

  /**
   * Where a page that starts now resumes from: the position before the oldest turn still
   * running, so its answer is replayed whole; else the last position received.
   */
  resumeFrom() {
    return this.turns.length ? this.turns[0].pos : this.pos;
  }

  setPos(pos) {
    this.pos = pos;
    this.save();
  }

  setThread(id) {
    if (this.thread === id) return;
    this.thread = id;
    this.save();
  }

  /** A `message` went out as `rid` (to `thread`, null for a new one) while holding `pos`. */
  turnSent(rid, thread, pos) {
    if (!pos) return;
    this.turns.push({ rid, thread, pos, at: Date.now() });
    this.save();
  }

  /**
   * A turn started on `thread` from elsewhere (another tab or device): its first event came
   * after `pos`. Nothing is noted when a turn there is already.
   */
  turnSeen(thread, pos) {
    if (!pos || this.turns.some((t) => t.thread === thread)) return;
    this.turns.push({ rid: null, thread, pos, at: Date.now() });
    this.save();
  }

  /** The turn sent as `rid` created `thread`. Returns whether that turn was noted here. */
  turnNamed(rid, thread) {
    const turn = rid && this.turns.find((t) => t.rid === rid);
    if (!turn) return false;
    if (turn.thread !== thread) {
      turn.thread = thread;
      this.save();
    }
    return true;
  }

  /** Whether a turn sent from this tab as `rid` is noted (and not known to have ended). */
  sent(rid) {
    return Boolean(rid) && this.turns.some((t) => t.rid === rid);
  }

  /** The turn on `thread` ended (or none runs there). */
  threadIdle(thread) {
    this.drop((t) => t.thread === thread);
  }

  /** The frame sent as `rid` was refused: no turn of it will come. */
  refused(rid) {
    this.drop((t) => t.rid === rid);
  }

  /** The server could not replay what was missed: which turns still run is unknown. */
  forgetTurns() {
    this.drop(() => true);
  }

  drop(which) {
    const kept = this.turns.filter((t) => !which(t));
    if (kept.length === this.turns.length) return;
    this.turns = kept;
    this.save();
  }

  save() {
    const { user_id, pos, thread, turns } = this;
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ user_id, pos, thread, turns }));
    } catch {
      // Storage full or refused: resuming after a reload falls back to a plain load.
    }
  }

  /** Forgets everything (signing out). */
  static clear() {
    try {
      sessionStorage.removeItem(KEY);
    } catch {
      // Nothing to forget.
    }
  }
}
