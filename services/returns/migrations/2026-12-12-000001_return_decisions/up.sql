-- Returns waiting for their items, by when they expire (the expiry job reads them every second).
CREATE INDEX returns_overdue ON returns (status, expires_at);

-- A return the policy leaves to a store manager (a few days past the window, a large refund): the rule and why,
-- while it waits for the decision.
ALTER TABLE returns ADD COLUMN manager_rule TEXT;
ALTER TABLE returns ADD COLUMN manager_reason TEXT;

-- A unit refunded although it did not come: only by a store manager's explicit override (audited).
ALTER TABLE return_units ADD COLUMN refund_override BOOLEAN NOT NULL DEFAULT FALSE;
