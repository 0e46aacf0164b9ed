-- Every query on messages names the message id or the conversation, so an index on user_id
-- alone served none of them; it only cost every append one more index entry to write.
DROP INDEX IF EXISTS messages_user;
