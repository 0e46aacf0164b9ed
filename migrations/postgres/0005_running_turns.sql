-- The turn each thread runs now, on whichever instance: one turn per thread across every
-- instance on this database. A row lives while its turn runs; its instance refreshes seen_at
-- every 15 seconds, and a row not refreshed for a minute (its instance died) is taken over.
-- Unlogged: a claim is worth nothing after a database restart, and writing none to the WAL
-- keeps its two commits per turn off the disk (a turn's durable writes are its messages).
CREATE UNLOGGED TABLE running_turns (
    thread_id UUID PRIMARY KEY,
    user_id TEXT NOT NULL,
    instance UUID NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX running_turns_instance ON running_turns (instance);
