-- Nodes that refused the order's hold, comma-separated, and how often it was routed again.
ALTER TABLE orders ADD COLUMN excluded_locations TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN reroutes INTEGER NOT NULL DEFAULT 0;
