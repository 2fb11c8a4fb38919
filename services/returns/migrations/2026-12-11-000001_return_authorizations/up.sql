-- Returns (issue 23). What returns learns of each order beyond its lines: its channel, total and payer, and the
-- return policy as it stood when the order was placed (a JSON snapshot: window days, final-sale SKUs).
ALTER TABLE order_views ADD COLUMN channel TEXT NOT NULL DEFAULT 'web';
ALTER TABLE order_views ADD COLUMN total_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_views ADD COLUMN placed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE order_views ADD COLUMN policy TEXT;

-- The catalog's tags per SKU (from omni.catalog.v1), for the policy snapshot's final-sale items.
CREATE TABLE sku_tags (
    sku TEXT PRIMARY KEY NOT NULL,
    tags TEXT NOT NULL
);

-- What left for the customer, per fulfillment and SKU (from omni.fulfillment.v1 `completed`).
CREATE TABLE order_deliveries (
    order_id TEXT NOT NULL,
    fulfillment_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    location_id TEXT NOT NULL,
    delivered_at TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, fulfillment_id, sku)
);

-- Return authorizations.
CREATE TABLE returns (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    -- JSON: {"type": "in_store", "location_id": …} or {"type": "by_mail"}.
    method TEXT NOT NULL,
    refund_to TEXT NOT NULL,
    declined_rule TEXT,
    declined_reason TEXT,
    requested_by TEXT NOT NULL,
    refund_minor BIGINT NOT NULL DEFAULT 0 CHECK (refund_minor >= 0),
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX returns_by_order ON returns (order_id);

CREATE TABLE return_lines (
    return_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    reason TEXT NOT NULL,
    received INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= quantity),
    PRIMARY KEY (return_id, sku)
);

-- Each received unit, graded once: one row per unit, so a second disposition for a unit cannot be written.
CREATE TABLE return_units (
    return_id TEXT NOT NULL,
    unit INTEGER NOT NULL CHECK (unit >= 0),
    sku TEXT NOT NULL,
    grade TEXT NOT NULL,
    -- JSON: {"type": "restock"}, {"type": "restock_as", "sku": …}, {"type": "write_off"}, …
    disposition TEXT NOT NULL,
    location_id TEXT NOT NULL,
    refund_minor BIGINT NOT NULL CHECK (refund_minor >= 0),
    PRIMARY KEY (return_id, unit)
);
