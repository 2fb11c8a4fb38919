CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    partner_id TEXT,
    partner_order_id TEXT,
    -- The accepted request (NewOrder) as JSON: lines, delivery, tenders (tokens only), customer.
    request TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    location_id TEXT,
    reservation_id TEXT,
    fulfillment_id TEXT,
    payment_intent_id TEXT,
    failure_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- A partner order is taken once, whatever the redelivery or restart.
CREATE UNIQUE INDEX orders_by_partner_order ON orders (partner_id, partner_order_id);
CREATE INDEX orders_by_status ON orders (status);

CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
);
