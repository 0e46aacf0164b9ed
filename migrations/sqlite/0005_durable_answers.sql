-- Answers that survive a crash, and sends that never run twice.
--
-- An assistant message is now stored from the moment its turn starts, `in_progress`, and its
-- text is saved as it streams; `next_seq` counts the deltas that text holds. A message whose
-- turn died with its process is `interrupted`. SQLite cannot change a CHECK constraint in
-- place, so `messages` is rebuilt, and `message_details`, which refers to it, with it: its
-- rows are copied aside first, as dropping `messages` would delete them by cascade.

CREATE TABLE messages_new (
    id              TEXT    PRIMARY KEY NOT NULL,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    content         TEXT    NOT NULL,
    tool_calls      TEXT    NOT NULL DEFAULT '[]',
    status          TEXT    NOT NULL
        CHECK (status IN ('completed', 'cancelled', 'failed', 'in_progress', 'interrupted')),
    usage           TEXT    NULL,
    created_at      INTEGER NOT NULL,
    next_seq        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conversation_id, seq)
);
INSERT INTO messages_new (id, conversation_id, user_id, seq, role, content, tool_calls, status,
                          usage, created_at)
    SELECT id, conversation_id, user_id, seq, role, content, tool_calls, status, usage, created_at
    FROM messages;

CREATE TABLE message_details_copy AS SELECT message_id, user_id, data FROM message_details;
DROP TABLE message_details;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

CREATE TABLE message_details (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    data       TEXT NOT NULL
);
INSERT INTO message_details (message_id, user_id, data)
    SELECT message_id, user_id, data FROM message_details_copy;
DROP TABLE message_details_copy;

-- As in 0003: an append moves its conversation's last_seq and updated_at.
CREATE TRIGGER messages_advance_conversation AFTER INSERT ON messages
BEGIN
    UPDATE conversations
    SET last_seq = MAX(last_seq, NEW.seq), updated_at = NEW.created_at
    WHERE id = NEW.conversation_id;
END;

-- The answers in progress, for the sweep that interrupts those whose process died: only rows
-- of running turns are in it.
CREATE INDEX messages_in_progress ON messages (conversation_id) WHERE status = 'in_progress';

-- The client's id of each send (`client_message_id`), unique per user and written in the same
-- transaction as the user message it sent, so a retried send finds the turn it started.
-- Rows are swept after two days.
CREATE TABLE client_messages (
    user_id           TEXT    NOT NULL,
    client_message_id TEXT    NOT NULL,
    conversation_id   TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id        TEXT    NOT NULL,
    answer_id         TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_message_id)
);
CREATE INDEX client_messages_conversation ON client_messages (conversation_id);
CREATE INDEX client_messages_created ON client_messages (created_at);
