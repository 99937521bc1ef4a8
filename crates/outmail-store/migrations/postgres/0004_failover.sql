-- Sticky failover: a profile listed here sends through its alternate until an admin resets it
-- or changes the profile. In the database, so every replica sees the same state.
CREATE TABLE failovers (
    profile_id   TEXT    NOT NULL PRIMARY KEY,
    alternate_id TEXT    NOT NULL,
    since        BIGINT NOT NULL,
    reason       TEXT    NOT NULL
);

-- The history: every failover and every reset.
CREATE TABLE failover_events (
    id           TEXT    NOT NULL PRIMARY KEY,
    profile_id   TEXT    NOT NULL,
    -- failed_over | reset
    kind         TEXT    NOT NULL,
    alternate_id TEXT,
    reason       TEXT    NOT NULL,
    at           BIGINT NOT NULL
);

CREATE INDEX failover_events_profile ON failover_events (profile_id, at);
