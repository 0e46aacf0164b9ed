-- Messages sent to a thread while it answers another, with `on_busy: "enqueue"`: each waits
-- here, in order (`n`), until the turn before it ends; the write that starts its turn deletes
-- it and stores it as the thread's user message, under the same id. `answer_id` is the id its
-- answer will have, known from the start so a client can follow the turn before it runs.
CREATE TABLE queued_messages (
    n               BIGSERIAL   PRIMARY KEY,
    id              UUID        NOT NULL UNIQUE,
    conversation_id UUID        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT        NOT NULL,
    answer_id       UUID        NOT NULL,
    content         TEXT        NOT NULL,
    metadata        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    request_id      TEXT        NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX queued_messages_thread ON queued_messages (conversation_id, n);
