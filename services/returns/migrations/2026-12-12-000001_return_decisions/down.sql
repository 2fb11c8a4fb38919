ALTER TABLE return_units DROP COLUMN refund_override;
ALTER TABLE returns DROP COLUMN manager_reason;
ALTER TABLE returns DROP COLUMN manager_rule;
DROP INDEX returns_overdue;
