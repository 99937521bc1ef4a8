-- The SMTP relay: tokens bound to a tenant, and where each message came from.

-- A token bound to a tenant sends only that tenant's mail. Deleting the tenant revokes its
-- tokens: they could send nothing any more.
ALTER TABLE api_tokens ADD COLUMN tenant_id TEXT REFERENCES tenants (id) ON DELETE CASCADE;

-- api | smtp: the door the message came in by, indexed for the relay's last submissions.
ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'api';
-- A JSON object: the token's name and the client's address (NULL for rows from before).
ALTER TABLE messages ADD COLUMN source TEXT;

CREATE INDEX messages_channel_created ON messages (channel, created_at);
