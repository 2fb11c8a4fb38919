-- Refunds (issue 22): one row per refund id, its idempotency key. Written with the refund's PSP operations
-- (recorded as asked in `tender_operations`, named `<intent>:refund-<id>:<tender>:<kind>`), marked `refunded` once
-- their results are recorded and `omni.payment.refunded` is enqueued. A refused refund writes nothing.
CREATE TABLE refunds (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL,
    payment_intent_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'refunded')),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (order_id);
