-- Omni gift cards and store credit (issue 22): stored value spent by a code. Only the code's reference (a one-way
-- digest) and its last four characters are kept. `balance` is the money on the card, `held` what authorizations
-- keep aside for orders not captured yet: available = balance - held. The database holds the invariants too.
CREATE TABLE stored_value_cards (
    reference TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('gift_card', 'store_credit')),
    -- The issuer's idempotency key: issuing again under it answers the same card (without its code).
    issue_id TEXT NOT NULL UNIQUE,
    last4 TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance BIGINT NOT NULL,
    held BIGINT NOT NULL,
    customer_id TEXT,
    issued_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT stored_value_within_balance CHECK (balance >= 0 AND held >= 0 AND held <= balance)
);

-- Every movement of a card, by its idempotency key (the tender operation's id, or `issue:<issue_id>`): a movement
-- asked again is found here and not applied twice.
CREATE TABLE stored_value_movements (
    id TEXT PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL REFERENCES stored_value_cards (reference),
    kind TEXT NOT NULL CHECK (kind IN ('issue', 'hold', 'capture', 'release', 'refund')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX stored_value_movements_by_card ON stored_value_movements (reference);
