-- Settings documents are JSON text; only what is indexed, constrained or joined has a column.
-- Timestamps are unix milliseconds (UTC). STRICT makes SQLite enforce the declared types.

CREATE TABLE profiles (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL UNIQUE,
    transport   TEXT    NOT NULL,
    document    TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX profiles_transport ON profiles (transport);

CREATE TABLE profile_secrets (
    profile_id  TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    slot        TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    -- The fingerprint of the destination the secret was entered for; part of the AEAD data.
    destination TEXT NOT NULL,
    PRIMARY KEY (profile_id, slot)
) STRICT, WITHOUT ROWID;

-- At most one row: absent means "defaults, version 0".
CREATE TABLE global_settings (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    document    TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE tenants (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    document    TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE routing_rules (
    id          TEXT    NOT NULL PRIMARY KEY,
    priority    INTEGER NOT NULL,
    document    TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX routing_rules_priority ON routing_rules (priority, id);
