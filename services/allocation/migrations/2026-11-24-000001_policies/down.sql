DROP INDEX reservations_by_parent;
ALTER TABLE reservations DROP COLUMN parent_id;
DROP TABLE policy_versions;
DROP TABLE policies;
DROP TABLE location_weather;
ALTER TABLE known_locations DROP COLUMN region;
ALTER TABLE known_locations DROP COLUMN timezone;
