-- Appending a message is one INSERT ... SELECT that takes the conversation's next seq; this
-- trigger, run inside that statement, moves the conversation past it. One statement is atomic
-- on its own, so an append needs no explicit transaction.
CREATE TRIGGER messages_advance_conversation AFTER INSERT ON messages
BEGIN
    UPDATE conversations
    SET last_seq = MAX(last_seq, NEW.seq), updated_at = NEW.created_at
    WHERE id = NEW.conversation_id;
END;
