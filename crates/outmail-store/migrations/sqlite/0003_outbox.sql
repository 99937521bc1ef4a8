-- The durable outbox: one row per accepted message, until it is sent, failed for good or
-- suppressed. Workers claim due rows with a lease, so a crashed worker's rows come back.
CREATE TABLE messages (
    id                    TEXT    NOT NULL PRIMARY KEY,
    tenant_id             TEXT,
    profile_id            TEXT    NOT NULL,
    -- The message as accepted (JSON): addresses, subject, bodies, headers, Message-ID.
    document              TEXT    NOT NULL,
    -- queued | sent | failed | suppressed
    status                TEXT    NOT NULL,
    attempts              INTEGER NOT NULL DEFAULT 0,
    next_attempt_at       INTEGER NOT NULL,
    lease_owner           TEXT,
    lease_until           INTEGER,
    server_used           TEXT,
    last_error            TEXT,
    -- Recipients left out by the send frequency (JSON array), with the reason.
    suppressed_recipients TEXT    NOT NULL DEFAULT '[]',
    idempotency_key       TEXT    UNIQUE,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;

CREATE INDEX messages_due ON messages (status, next_attempt_at);
CREATE INDEX messages_created ON messages (created_at);

-- Send frequency: one live claim per profile, recipient and alert. A new message takes the
-- claim only once the old one has expired, in one statement, so two racing messages cannot both
-- pass.
CREATE TABLE send_claims (
    profile_id  TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    dedupe_key  TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (profile_id, recipient, dedupe_key)
) STRICT, WITHOUT ROWID;
