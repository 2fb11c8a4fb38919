ALTER TABLE orders DROP COLUMN exchange_for;
