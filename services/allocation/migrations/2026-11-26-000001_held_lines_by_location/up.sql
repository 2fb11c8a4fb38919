-- Availability sums a SKU's held lines by location on every change of the SKU. With the location on the line,
-- that is one scan of a partial index holding only the held lines; before, it joined each held line to its
-- reservation (one index probe per active hold of the SKU). A reservation's location never changes.
ALTER TABLE reservation_lines ADD COLUMN location_id TEXT NOT NULL DEFAULT '';
UPDATE reservation_lines SET location_id = (
    SELECT r.location_id FROM reservations r WHERE r.reservation_id = reservation_lines.reservation_id
);
-- Its predicate is stated as a literal in the query too, so a prepared statement's generic plan can use it.
CREATE INDEX reservation_lines_held ON reservation_lines (sku, location_id, quantity) WHERE held;
