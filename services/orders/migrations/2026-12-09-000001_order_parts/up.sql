-- The parts of an order: one per node that serves it (a split order has several), each its own fulfillment and
-- hold, and where it is. Orders sourced before have none recorded: the saga treats them as one part.
CREATE TABLE order_parts (
    fulfillment_id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    state TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX order_parts_by_order ON order_parts (order_id, position);
