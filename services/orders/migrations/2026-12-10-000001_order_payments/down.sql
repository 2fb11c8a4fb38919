ALTER TABLE orders DROP COLUMN voided_minor;
ALTER TABLE orders DROP COLUMN refunded_minor;
ALTER TABLE orders DROP COLUMN captured_minor;
