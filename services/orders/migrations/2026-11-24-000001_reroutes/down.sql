ALTER TABLE orders DROP COLUMN reroutes;
ALTER TABLE orders DROP COLUMN excluded_locations;
