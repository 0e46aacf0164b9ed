-- agentwire schema, SQLite flavour.
-- UUIDs are hyphenated lowercase TEXT, timestamps are INTEGER unix microseconds (exact ordering),
-- JSON is TEXT, dates are TEXT 'YYYY-MM-DD', booleans are INTEGER 0/1.

CREATE TABLE conversations (
    id         TEXT    PRIMARY KEY NOT NULL,
    user_id    TEXT    NOT NULL,
    title      TEXT    NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    metadata   TEXT    NOT NULL DEFAULT '{}',
    last_seq   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_user_updated ON conversations (user_id, updated_at DESC, id);

CREATE TABLE messages (
    id              TEXT    PRIMARY KEY NOT NULL,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    content         TEXT    NOT NULL,
    tool_calls      TEXT    NOT NULL DEFAULT '[]',
    status          TEXT    NOT NULL CHECK (status IN ('completed', 'cancelled', 'failed')),
    usage           TEXT    NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);
-- The unique (conversation_id, seq) index also serves the foreign key.
CREATE INDEX messages_user ON messages (user_id);

CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    title      TEXT    NOT NULL,
    priority   TEXT    NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    due_date   TEXT    NULL,
    completed  INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (user_id, number)
);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at);

CREATE TABLE task_counters (
    user_id     TEXT    PRIMARY KEY NOT NULL,
    last_number INTEGER NOT NULL
);
