DROP TABLE policy_versions;
DROP TABLE policies;
DROP TABLE location_weather;
ALTER TABLE known_locations DROP COLUMN region;
ALTER TABLE known_locations DROP COLUMN timezone;
