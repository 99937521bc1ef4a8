-- Who may sign in. The email is the sign-in name; the password is an argon2id PHC string.
CREATE TABLE admins (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    -- admin | viewer
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Signed-in browsers. Only a SHA-256 of the cookie value is kept: a copy of the database does
-- not sign anyone in.
CREATE TABLE sessions (
    token_hash   TEXT    NOT NULL PRIMARY KEY,
    admin_id     TEXT    NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- The absolute end; the idle timeout is checked against last_seen_at.
    expires_at   BIGINT NOT NULL
);

CREATE INDEX sessions_admin ON sessions (admin_id);

-- Tokens for the product's sending API, hashed like sessions, with the scopes they carry.
CREATE TABLE api_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    -- A JSON array of scope names.
    scopes       TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    created_by   TEXT    NOT NULL,
    last_used_at BIGINT
);

-- Who changed what, tested what and signed in: field names only, never values.
CREATE TABLE audit_events (
    id      TEXT    NOT NULL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    -- A JSON array of field names.
    fields  TEXT    NOT NULL,
    outcome TEXT    NOT NULL
);

CREATE INDEX audit_events_at ON audit_events (at);
