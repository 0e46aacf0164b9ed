// The open thread's messages: drawn from `thread.load` and kept current by the turn events.
//
// Deltas are applied by `seq` (docs/protocol.md sections 3 and 6), so a replay that overlaps what
// is shown adds nothing twice: each streaming answer keeps the `seq` of its next delta, and where
// each delta it has applied starts in its text. A frame may cover several deltas (`count`); one
// wholly below the next expected `seq` is skipped, one that overlaps has its already-shown start
// cut off, and one that starts past it means deltas were lost (a hole): the caller reloads. A
// final message never goes back to streaming, so frames held back during a load can be applied
// after it whatever they overlap.

import { messageItem, updateMessageItem } from './render.js';

const FINAL = new Set(['completed', 'cancelled', 'failed', 'interrupted']);

export class OpenThread {
  constructor(list) {
    this.list = list;
    this.id = null;
    this.messages = new Map(); // id → message, in arrival order
    this.nextSeq = new Map(); // streaming message id → next expected delta seq
    this.starts = new Map(); // streaming message id → Map(seq → offset in its content)
    this.joined = new Set(); // streaming messages loaded with their tool calls so far
    this.reloadedFor = new Set(); // messages a hole has already reloaded the thread for
    this.held = null; // frames for this thread that arrived during a load
    this.queue = new Map(); // queued message id → message, next first (drawn after the rest)
  }

  /** Shows thread `id` (or nothing, for null) with no messages yet. */
  reset(id) {
    if (id !== this.id) this.reloadedFor.clear();
    this.id = id;
    this.messages.clear();
    this.nextSeq.clear();
    this.starts.clear();
    this.joined.clear();
    this.held = null;
    this.queue.clear();
    this.list.replaceChildren();
  }

  /** Holds back this thread's frames until `loaded()` (frames held so far are kept). */
  hold() {
    if (!this.held) this.held = [];
  }

  /** Whether `frame` was held back because a load is running. */
  holds(frame) {
    if (!this.held) return false;
    this.held.push(frame);
    return true;
  }

  /** Ends holding back without a load (it failed); returns the held frames. */
  release() {
    const held = this.held || [];
    this.held = null;
    return held;
  }

  /**
   * Replaces the messages with a loaded thread. An answer in progress comes with `next_seq`,
   * the `seq` of its next delta; where more of it has streamed in here already, what is shown is
   * kept. While the turn runs, the text streamed so far of an answer the store does not list is
   * kept too, so the deltas that follow continue it. Returns the held-back frames, to be applied
   * next.
   */
  loaded(messages, running) {
    const before = new Map(
      [...this.messages.values()]
        .filter((m) => m.status === 'in_progress')
        .map((m) => [
          m.id,
          { m, next: this.nextSeq.get(m.id) || 0, starts: this.starts.get(m.id), joined: this.joined.has(m.id) },
        ]),
    );
    const held = this.held || [];
    this.reset(this.id);
    const keep = ({ m, next, starts, joined }) => {
      this.upsert(m);
      this.nextSeq.set(m.id, next);
      this.starts.set(m.id, starts || new Map([[0, 0]]));
      if (joined) this.joined.add(m.id);
    };
    for (const m of messages) {
      if (m.status !== 'in_progress') {
        this.upsert(m);
        continue;
      }
      const next = Number.isInteger(m.next_seq) ? m.next_seq : 0;
      const shown = before.get(m.id);
      if (shown && shown.next > next) {
        keep(shown);
        continue;
      }
      this.upsert(m);
      this.track(m.id, next, m.content || '');
      if (next > 0) this.joined.add(m.id);
    }
    if (running) {
      for (const shown of before.values()) {
        if (!this.messages.has(shown.m.id)) keep(shown);
      }
    }
    return held;
  }

  /** Starts following answer `id`, whose `content` holds its deltas up to `next`. */
  track(id, next, content) {
    this.nextSeq.set(id, next);
    const starts = new Map([[0, 0]]);
    starts.set(next, content.length);
    this.starts.set(id, starts);
  }

  /** Adds or updates a message; a final message never goes back to streaming. */
  upsert(message) {
    const known = this.messages.get(message.id);
    if (known && FINAL.has(known.status) && !FINAL.has(message.status)) return known;
    const merged = known ? { ...known, ...message } : { tool_calls: [], ...message };
    this.messages.set(message.id, merged);
    const item = this.list.querySelector(`li[data-id="${CSS.escape(message.id)}"]`);
    if (item) {
      updateMessageItem(item, merged);
      // A queued message that started: it stays where it is, the first of the queue.
      if (this.queue.delete(message.id)) this.numberQueue();
    } else {
      // Queued messages stay below every message of the thread.
      this.list.insertBefore(messageItem(merged), this.firstQueued());
    }
    return merged;
  }

  /** The item of the first queued message, or null. */
  firstQueued() {
    return this.list.querySelector('li[data-status="queued"]');
  }

  /** `message.queued` (or a loaded `queued` list): drawn last, with its place and a cancel. */
  queued(message) {
    if (this.messages.has(message.id) || this.queue.has(message.id)) return;
    this.queue.set(message.id, message);
    const item = messageItem({ ...message, tool_calls: [] });
    item.classList.add('queued');
    this.list.append(item);
    this.numberQueue();
  }

  /** `message.unqueued` with reason `cancelled`: the message goes (one that started stays). */
  unqueued(id) {
    if (!this.queue.delete(id)) return;
    this.list.querySelector(`li[data-status="queued"][data-id="${CSS.escape(id)}"]`)?.remove();
    this.numberQueue();
  }

  /** Labels each queued message with its place and a button to cancel it. */
  numberQueue() {
    let n = 0;
    for (const item of this.list.querySelectorAll('li[data-status="queued"]')) {
      n += 1;
      const tag = item.querySelector('.status-tag');
      if (tag) tag.textContent = `Queued · ${n}`;
      if (!item.querySelector('.cancel-queued')) {
        const cancel = document.createElement('button');
        cancel.type = 'button';
        cancel.className = 'cancel-queued';
        cancel.dataset.id = item.dataset.id;
        cancel.textContent = 'Cancel';
        cancel.setAttribute('aria-label', 'Cancel this queued message');
        item.append(cancel);
      }
    }
  }

  /** `message.added`; a message already shown (loaded, or replayed twice) is left as it is. */
  added(message) {
    if (this.messages.has(message.id)) return;
    this.upsert(message);
    if (message.role === 'assistant' && !FINAL.has(message.status)) {
      this.track(message.id, 0, '');
    }
  }

  /**
   * `stream.delta` (covering `count` deltas from `seq`): appends what is not shown yet. Returns
   * 'hole' when deltas before it are missing, or its overlap with what is shown cannot be told;
   * the frame is then not applied. An answer whose start was missed is made up.
   */
  delta({ message_id, delta, seq, count = 1 }) {
    const m = this.streaming(message_id);
    if (!m) return 'ok';
    const next = this.nextSeq.get(m.id) || 0;
    if (seq + count <= next) return 'ok';
    if (seq > next) return 'hole';
    let text = delta;
    if (seq < next) {
      // The frame starts with deltas already shown: cut exactly the text they added.
      const start = this.starts.get(m.id)?.get(seq);
      const shown = start === undefined ? null : m.content.slice(start);
      if (shown === null || !delta.startsWith(shown)) return 'hole';
      text = delta.slice(shown.length);
    }
    this.append(m, seq + count, text);
    return 'ok';
  }

  /**
   * Applies a delta frame past a hole that a reload could not fill (the store has no text of the
   * answer yet): the missing piece stays missing until `message.done` brings the whole text.
   * Of a frame that overlaps by an unknown amount, the longest start it shares with the end of
   * what is shown is taken as shown.
   */
  forceDelta({ message_id, delta, seq, count = 1 }) {
    const m = this.streaming(message_id);
    if (!m) return;
    const next = this.nextSeq.get(m.id) || 0;
    if (seq + count <= next) return;
    let text = delta;
    if (seq < next) {
      let k = Math.min(delta.length, m.content.length);
      while (k > 0 && !m.content.endsWith(delta.slice(0, k))) k -= 1;
      text = delta.slice(k);
    }
    this.append(m, seq + count, text);
  }

  append(m, next, text) {
    this.nextSeq.set(m.id, next);
    if (!this.starts.has(m.id)) this.starts.set(m.id, new Map([[0, 0]]));
    const content = m.content + text;
    this.starts.get(m.id).set(next, content.length);
    this.upsert({ ...m, content });
  }

  /** `tool.called`: one more chip on the answer. */
  toolCalled({ message_id, tool_name, arguments: args, result }) {
    const m = this.streaming(message_id);
    if (!m) return;
    const call = { tool_name, arguments: args, result };
    const calls = m.tool_calls || [];
    // An answer joined in progress was loaded with its calls so far; their replay adds none.
    if (this.joined.has(m.id) && calls.some((c) => sameCall(c, call))) return;
    this.upsert({ ...m, tool_calls: [...calls, call] });
  }

  /** `message.done`: the stored, final answer replaces what streamed. */
  done(message) {
    this.upsert(message);
    this.nextSeq.delete(message.id);
    this.starts.delete(message.id);
    this.joined.delete(message.id);
  }

  /** The answer `id` while it streams (made up if its start was missed); null once final. */
  streaming(id) {
    const m =
      this.messages.get(id) ||
      this.upsert({ id, thread_id: this.id, role: 'assistant', content: '', status: 'in_progress' });
    return m.status === 'in_progress' ? m : null;
  }

  scrollToEnd() {
    this.list.lastElementChild?.scrollIntoView({ block: 'end' });
  }
}

function sameCall(a, b) {
  return (
    a.tool_name === b.tool_name &&
    JSON.stringify(a.arguments) === JSON.stringify(b.arguments) &&
    JSON.stringify(a.result) === JSON.stringify(b.result)
  );
}
