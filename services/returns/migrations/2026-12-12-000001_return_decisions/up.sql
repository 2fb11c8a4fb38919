-- Returns waiting for their items, by when they expire (the expiry job reads them every second).
CREATE INDEX returns_overdue ON returns (status, expires_at);

-- A return the policy leaves to a store manager (a few days past the window, a large refund): the rule and why,
-- while it waits for the decision.
ALTER TABLE returns ADD COLUMN manager_rule TEXT;
ALTER TABLE returns ADD COLUMN manager_reason TEXT;

-- A unit refunded although it did not come: only by a store manager's explicit override (audited).
ALTER TABLE return_units ADD COLUMN refund_override BOOLEAN NOT NULL DEFAULT FALSE;

-- Customers ask for returns of their order with its return code, sent to them once something of it was delivered
-- (`omni.return.code_issued`): only its SHA-256 is kept.
ALTER TABLE order_views ADD COLUMN return_code_sha256 TEXT;

-- Wrong return codes, by order and by client address: what guessing is limited by (pruned after the window).
CREATE TABLE return_code_failures (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL,
    client TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX return_code_failures_by_order ON return_code_failures (order_id, at);
CREATE INDEX return_code_failures_by_client ON return_code_failures (client, at);

-- A return refunded as store credit: the credit payments issued (its reference and last four; the code went to
-- the customer in omni.payment.store_credit_issued).
ALTER TABLE returns ADD COLUMN store_credit_reference TEXT;
ALTER TABLE returns ADD COLUMN store_credit_last4 TEXT;
