DROP INDEX reservation_lines_held;
ALTER TABLE reservation_lines DROP COLUMN location_id;
