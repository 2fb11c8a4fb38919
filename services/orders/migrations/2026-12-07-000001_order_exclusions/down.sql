-- Reverting keeps the re-route count but not which nodes refused: an order routed again after the revert may be
-- offered to one of them once more (its hold is refused again, and counted).
ALTER TABLE orders ADD COLUMN excluded_locations TEXT NOT NULL DEFAULT '';
DROP TABLE order_exclusions;
