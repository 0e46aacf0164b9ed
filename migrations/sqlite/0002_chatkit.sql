-- Items beyond plain messages, for ChatKit: the rich shape of a message, feedback per item,
-- hidden context items and uploaded attachments (bytes kept here, owner-only).

-- ChatKit shape of a message (content parts, attachments, quoted text, inference options).
CREATE TABLE message_details (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    data       TEXT NOT NULL
);

CREATE TABLE item_feedback (
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL,
    item_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('positive', 'negative')),
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, item_id)
);

-- Context for the model that clients never see (e.g. "the user stopped the last answer").
-- after_seq: the conversation's last message seq when the item was written.
CREATE TABLE hidden_items (
    id              TEXT    PRIMARY KEY NOT NULL,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL,
    after_seq       INTEGER NOT NULL,
    content         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX hidden_items_conversation ON hidden_items (conversation_id, after_seq);

-- bytes is NULL until uploaded; conversation_id is set when a message uses the attachment.
CREATE TABLE attachments (
    id              TEXT    PRIMARY KEY NOT NULL,
    user_id         TEXT    NOT NULL,
    conversation_id TEXT    NULL REFERENCES conversations (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    mime_type       TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    bytes           BLOB    NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_user ON attachments (user_id);
CREATE INDEX attachments_conversation ON attachments (conversation_id);
