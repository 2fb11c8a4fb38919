-- The payments vault and payment intents. Plain SQL both PostgreSQL and SQLite accept.

-- Versioned data keys. Each key is 32 random bytes, stored only wrapped (AES-256-GCM) by the key-encryption key
-- from `payments.key_encryption_key`. Exactly one key is active; retired keys only decrypt.
CREATE TABLE data_keys (
    version INTEGER PRIMARY KEY NOT NULL,
    -- base64 of nonce (12 bytes) || ciphertext and tag of the key.
    wrapped_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired BOOLEAN NOT NULL,
    retired_at TIMESTAMP
);

-- Tokenized cards. The card number and expiry exist only as ciphertext; the CVC is never stored.
CREATE TABLE vault_cards (
    -- `tok_` + 24 random characters: never derived from the card number.
    token TEXT PRIMARY KEY NOT NULL,
    key_version INTEGER NOT NULL REFERENCES data_keys (version),
    -- base64 of the 12-byte AES-GCM nonce.
    nonce TEXT NOT NULL,
    -- base64 of the AES-256-GCM ciphertext and tag of the number and expiry.
    ciphertext TEXT NOT NULL,
    brand TEXT NOT NULL,
    first6 TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- One intent per order for now: the authorization of the order's amount on its tenders.
CREATE TABLE payment_intents (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    -- authorized | declined
    status TEXT NOT NULL,
    psp_reference TEXT,
    decline_reason TEXT,
    -- JSON array of the order's tenders (vault tokens only, never card data).
    tenders TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Idempotency by order: a second authorization of the same order fails here and is dropped.
CREATE UNIQUE INDEX payment_intents_order_id ON payment_intents (order_id);
