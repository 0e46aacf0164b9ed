-- Items beyond plain messages, for ChatKit: the rich shape of a message, feedback per item,
-- hidden context items and uploaded attachments (bytes kept here, owner-only).

-- ChatKit shape of a message (content parts, attachments, quoted text, inference options).
CREATE TABLE message_details (
    message_id UUID  PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT  NOT NULL,
    data       JSONB NOT NULL
);

CREATE TABLE item_feedback (
    conversation_id UUID        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT        NOT NULL,
    item_id         TEXT        NOT NULL,
    kind            TEXT        NOT NULL CHECK (kind IN ('positive', 'negative')),
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation_id, item_id)
);

-- Context for the model that clients never see (e.g. "the user stopped the last answer").
-- after_seq: the conversation's last message seq when the item was written.
CREATE TABLE hidden_items (
    id              UUID        PRIMARY KEY,
    conversation_id UUID        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT        NOT NULL,
    after_seq       BIGINT      NOT NULL,
    content         JSONB       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX hidden_items_conversation ON hidden_items (conversation_id, after_seq);

-- bytes is NULL until uploaded; conversation_id is set when a message uses the attachment.
CREATE TABLE attachments (
    id              UUID        PRIMARY KEY,
    user_id         TEXT        NOT NULL,
    conversation_id UUID        NULL REFERENCES conversations (id) ON DELETE CASCADE,
    name            TEXT        NOT NULL,
    mime_type       TEXT        NOT NULL,
    size            BIGINT      NOT NULL,
    bytes           BYTEA       NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX attachments_user ON attachments (user_id);
CREATE INDEX attachments_conversation ON attachments (conversation_id);
