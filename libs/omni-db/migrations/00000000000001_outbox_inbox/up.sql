-- Shared by every service's schema: the transactional outbox and the consumer inbox.
-- Written in the SQL both PostgreSQL and SQLite accept, so one migration serves both backends.

CREATE TABLE omni_outbox (
    -- The CloudEvents id, a UUIDv7: sorting by it is sorting by creation.
    id TEXT PRIMARY KEY NOT NULL,
    -- Logical topic key (`orders`, `inventory`, ...); mapped to the physical name when sent.
    topic TEXT NOT NULL,
    message_key TEXT NOT NULL,
    -- JSON array of [name, value] pairs: the ce_* attributes and the traceparent.
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE omni_inbox (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Privileged actions (stock adjustments, policy changes, detokenization, key rotation, catalog changes).
CREATE TABLE omni_audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    principal TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
