-- The read model of orders returns are checked against (from omni.orders.v1).
CREATE TABLE order_views (
    order_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    -- JSON array of lines as accepted: sku, quantity, unit price.
    lines TEXT NOT NULL,
    currency TEXT NOT NULL,
    location_id TEXT,
    partner_id TEXT,
    accepted_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
