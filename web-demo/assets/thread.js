// The open thread's messages: drawn from `thread.load` and kept current by the turn events.
//
// Delta `seq` numbers make replays harmless (a delta already shown is skipped), and a final
// message never goes back to streaming, so frames held back during a load can be applied after
// it whatever they overlap.

import { messageItem, updateMessageItem } from './render.js';

const FINAL = new Set(['completed', 'cancelled', 'failed', 'interrupted']);

export class OpenThread {
  constructor(list) {
    this.list = list;
    this.id = null;
    this.messages = new Map(); // id → message, in arrival order
    this.nextSeq = new Map(); // streaming message id → next expected delta seq
    this.held = null; // frames for this thread that arrived during a load
  }

  /** Shows thread `id` (or nothing, for null) with no messages yet. */
  reset(id) {
    this.id = id;
    this.messages.clear();
    this.nextSeq.clear();
    this.held = null;
    this.list.replaceChildren();
  }

  /** Holds back this thread's frames until `loaded()`. */
  hold() {
    this.held = [];
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
   * Replaces the messages with a loaded thread. An answer still being written comes with its
   * text saved so far and `next_seq`, the seq its deltas go on from; when more of it already
   * streamed here, that is kept instead. While its turn still runs, the text streamed so far of
   * an answer the store does not have yet is kept too, so the deltas that follow continue it.
   * Returns the held-back frames, to be applied next.
   */
  loaded(messages, running) {
    const streaming = [...this.messages.values()].filter((m) => m.status === 'in_progress');
    const seqs = new Map(this.nextSeq);
    const held = this.held || [];
    this.reset(this.id);
    for (const m of messages) {
      if (m.status !== 'in_progress') {
        this.upsert(m);
        continue;
      }
      const shown = streaming.find((s) => s.id === m.id);
      const next = m.next_seq || 0;
      if (shown && (seqs.get(m.id) || 0) > next) {
        this.upsert(shown);
        this.nextSeq.set(m.id, seqs.get(m.id));
      } else {
        this.upsert(m);
        this.nextSeq.set(m.id, next);
      }
    }
    if (running) {
      for (const m of streaming) {
        if (this.messages.has(m.id)) continue;
        this.upsert(m);
        this.nextSeq.set(m.id, seqs.get(m.id) || 0);
      }
    }
    return held;
  }

  /** Adds or updates a message; a final message never goes back to streaming. */
  upsert(message) {
    const known = this.messages.get(message.id);
    if (known && FINAL.has(known.status) && !FINAL.has(message.status)) return known;
    const merged = known ? { ...known, ...message } : { tool_calls: [], ...message };
    this.messages.set(message.id, merged);
    const item = this.list.querySelector(`li[data-id="${CSS.escape(message.id)}"]`);
    if (item) updateMessageItem(item, merged);
    else this.list.append(messageItem(merged));
    return merged;
  }

  /** `message.added`. */
  added(message) {
    this.upsert(message);
    if (message.role === 'assistant' && !FINAL.has(message.status)) this.nextSeq.set(message.id, 0);
  }

  /** `stream.delta`: appended unless already shown; an answer whose start was missed is made up. */
  delta({ message_id, delta, seq }) {
    const m = this.streaming(message_id);
    if (!m) return;
    const expected = this.nextSeq.get(m.id) || 0;
    if (seq < expected) return;
    this.nextSeq.set(m.id, seq + 1);
    this.upsert({ ...m, content: m.content + delta });
  }

  /** `tool.called`: one more chip on the answer. */
  toolCalled({ message_id, tool_name, arguments: args, result }) {
    const m = this.streaming(message_id);
    if (!m) return;
    this.upsert({ ...m, tool_calls: [...(m.tool_calls || []), { tool_name, arguments: args, result }] });
  }

  /** `message.done`: the stored, final answer replaces what streamed. */
  done(message) {
    this.upsert(message);
    this.nextSeq.delete(message.id);
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
