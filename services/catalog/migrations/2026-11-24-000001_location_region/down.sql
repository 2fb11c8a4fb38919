ALTER TABLE locations DROP COLUMN region;
