// The tasks panel: a snapshot from `GET /api/{user}/tasks`, kept current by `task.changed`.

import { el } from './render.js';

const PRIORITY_ORDER = { high: 0, medium: 1, low: 2 };

export class TaskBoard {
  constructor({ list, empty, count }) {
    this.list = list;
    this.empty = empty;
    this.count = count;
    this.tasks = new Map();
    this.loading = false;
    this.queued = [];
  }

  /** Replaces everything with a fresh listing, then re-applies changes that arrived meanwhile. */
  async load(fetchTasks) {
    this.loading = true;
    this.queued = [];
    try {
      const tasks = await fetchTasks();
      this.tasks = new Map(tasks.map((t) => [t.number, t]));
      for (const [change, task] of this.queued) this.apply(change, task);
    } finally {
      this.loading = false;
      this.queued = [];
      this.render();
    }
  }

  /** Applies one `task.changed`. A change older than what is shown is ignored. */
  change(change, task) {
    if (this.loading) this.queued.push([change, task]);
    this.apply(change, task);
    this.render(task.number);
  }

  apply(change, task) {
    if (change === 'deleted') {
      this.tasks.delete(task.number);
      return;
    }
    const known = this.tasks.get(task.number);
    if (known && Date.parse(known.updated_at) > Date.parse(task.updated_at)) return;
    this.tasks.set(task.number, task);
  }

  /** Pending first (by priority, then number), completed last. */
  sorted() {
    return [...this.tasks.values()].sort(
      (a, b) =>
        Number(a.completed) - Number(b.completed) ||
        (PRIORITY_ORDER[a.priority] ?? 1) - (PRIORITY_ORDER[b.priority] ?? 1) ||
        a.number - b.number,
    );
  }

  render(highlight) {
    const tasks = this.sorted();
    const pending = tasks.filter((t) => !t.completed).length;
    this.count.textContent = tasks.length ? `${pending} open` : '';
    this.empty.hidden = tasks.length > 0;
    this.list.replaceChildren(...tasks.map((t) => taskItem(t, t.number === highlight)));
  }
}

function taskItem(task, fresh) {
  const due = task.due_date
    ? el('span', { class: 'due' }, el('span', { class: 'visually-hidden', text: 'due ' }), task.due_date)
    : null;
  return el(
    'li',
    {
      class: `task ${task.completed ? 'done' : ''} ${fresh ? 'fresh' : ''}`,
      dataset: { number: String(task.number) },
    },
    el('span', { class: 'task-number', text: `#${task.number}` }),
    el('span', { class: 'task-title', text: task.title }),
    el('span', { class: `priority ${task.priority}`, text: task.priority }),
    due,
    task.completed ? el('span', { class: 'done-tag', text: 'done' }) : null,
  );
}
