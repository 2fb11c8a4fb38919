-- A region code per location, for buffer rules that match on regions.
ALTER TABLE locations ADD COLUMN region TEXT;
