-- agentwire schema, PostgreSQL flavour.

CREATE TABLE conversations (
    id         UUID        PRIMARY KEY,
    user_id    TEXT        NOT NULL,
    title      TEXT        NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    metadata   JSONB       NOT NULL DEFAULT '{}'::jsonb,
    last_seq   BIGINT      NOT NULL DEFAULT 0
);
CREATE INDEX conversations_user_updated ON conversations (user_id, updated_at DESC, id);

CREATE TABLE messages (
    id              UUID        PRIMARY KEY,
    conversation_id UUID        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT        NOT NULL,
    seq             BIGINT      NOT NULL,
    role            TEXT        NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    content         TEXT        NOT NULL,
    tool_calls      JSONB       NOT NULL DEFAULT '[]'::jsonb,
    status          TEXT        NOT NULL CHECK (status IN ('completed', 'cancelled', 'failed')),
    usage           JSONB       NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (conversation_id, seq)
);
-- The unique (conversation_id, seq) index also serves the foreign key.
CREATE INDEX messages_user ON messages (user_id);

CREATE TABLE tasks (
    id         BIGSERIAL   PRIMARY KEY,
    user_id    TEXT        NOT NULL,
    number     BIGINT      NOT NULL,
    title      TEXT        NOT NULL,
    priority   TEXT        NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    due_date   DATE        NULL,
    completed  BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, number)
);
CREATE INDEX tasks_user_updated ON tasks (user_id, updated_at);

CREATE TABLE task_counters (
    user_id     TEXT   PRIMARY KEY,
    last_number BIGINT NOT NULL
);
