-- Events too large for one NOTIFY payload (under 8,000 bytes), relayed between instances by
-- row id (see src/relay.rs). Receivers read a row within moments; rows are swept after five
-- minutes. Unlogged, as the notifications themselves are: nothing here outlives a restart.
CREATE UNLOGGED TABLE event_relay (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX event_relay_created ON event_relay (created_at);
