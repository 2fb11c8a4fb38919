ALTER TABLE locations DROP COLUMN pick_capacity;
ALTER TABLE locations DROP COLUMN curbside_bays;
