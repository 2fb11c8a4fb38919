ALTER TABLE returns DROP COLUMN store_credit_last4;
ALTER TABLE returns DROP COLUMN store_credit_reference;
DROP TABLE return_code_failures;
ALTER TABLE order_views DROP COLUMN return_code_sha256;
ALTER TABLE return_units DROP COLUMN refund_override;
ALTER TABLE returns DROP COLUMN manager_reason;
ALTER TABLE returns DROP COLUMN manager_rule;
DROP INDEX returns_overdue;
