DROP INDEX reservation_lines_held_by_sku;
ALTER TABLE reservation_lines DROP COLUMN held;
DROP INDEX reservations_by_parent;
ALTER TABLE reservations DROP COLUMN parent_id;
DROP TABLE policy_versions;
DROP TABLE policies;
DROP TABLE location_weather;
ALTER TABLE known_locations DROP COLUMN region;
ALTER TABLE known_locations DROP COLUMN timezone;
