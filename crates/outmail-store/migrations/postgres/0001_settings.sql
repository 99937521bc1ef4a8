-- Settings documents are JSON text (the store never queries inside them, and TEXT keeps one
-- binding for both backends); only what is indexed, constrained or joined has a column.
-- Timestamps are unix milliseconds (UTC).

CREATE TABLE profiles (
    id          TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    name_key    TEXT   NOT NULL UNIQUE,
    transport   TEXT   NOT NULL,
    document    TEXT   NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE INDEX profiles_transport ON profiles (transport);

CREATE TABLE profile_secrets (
    profile_id  TEXT  NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    slot        TEXT  NOT NULL,
    sealed      BYTEA NOT NULL,
    -- The fingerprint of the destination the secret was entered for; part of the AEAD data.
    destination TEXT  NOT NULL,
    PRIMARY KEY (profile_id, slot)
);

-- At most one row: absent means "defaults, version 0".
CREATE TABLE global_settings (
    id          SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
    document    TEXT     NOT NULL,
    version     BIGINT   NOT NULL CHECK (version >= 1),
    updated_at  BIGINT   NOT NULL
);

CREATE TABLE tenants (
    id          TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    document    TEXT   NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE routing_rules (
    id          TEXT   NOT NULL PRIMARY KEY,
    priority    BIGINT NOT NULL,
    document    TEXT   NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE INDEX routing_rules_priority ON routing_rules (priority, id);
