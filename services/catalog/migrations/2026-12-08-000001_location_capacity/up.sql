-- Curbside bays (numbered 1 to n; 0: none) and how many units a location can pick a day (NULL: no limit).
ALTER TABLE locations ADD COLUMN curbside_bays INTEGER NOT NULL DEFAULT 0;
ALTER TABLE locations ADD COLUMN pick_capacity INTEGER;
