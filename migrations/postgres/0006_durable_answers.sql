-- Answers that survive a crash, and sends that never run twice.
--
-- An assistant message is now stored from the moment its turn starts, `in_progress`, and its
-- text is saved as it streams; `next_seq` counts the deltas that text holds. A message whose
-- turn died with its instance is `interrupted`.
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('completed', 'cancelled', 'failed', 'in_progress', 'interrupted'));
ALTER TABLE messages ADD COLUMN next_seq BIGINT NOT NULL DEFAULT 0;

-- The answers in progress, for the sweep that interrupts those whose instance died: only rows
-- of running turns are in it.
CREATE INDEX messages_in_progress ON messages (conversation_id) WHERE status = 'in_progress';

-- The answer a claim's turn is writing (NULL for a claim taken apart from its answer's write):
-- an answer in progress that no live claim covers belongs to a dead instance.
ALTER TABLE running_turns ADD COLUMN message_id UUID NULL;

-- The client's id of each send (`client_message_id`), unique per user and written in the same
-- statement as the user message it sent, so a retried send finds the turn it started on any
-- instance. Rows are swept after two days.
CREATE TABLE client_messages (
    user_id           TEXT        NOT NULL,
    client_message_id TEXT        NOT NULL,
    conversation_id   UUID        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id        UUID        NOT NULL,
    answer_id         UUID        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_message_id)
);
CREATE INDEX client_messages_conversation ON client_messages (conversation_id);
CREATE INDEX client_messages_created ON client_messages (created_at);
