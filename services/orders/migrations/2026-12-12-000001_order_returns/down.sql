ALTER TABLE orders DROP COLUMN returned;
