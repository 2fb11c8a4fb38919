-- Read models of the catalog (allocation learns of locations and SKUs from omni.catalog.v1).
CREATE TABLE known_locations (
    id TEXT PRIMARY KEY NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE known_skus (
    sku TEXT PRIMARY KEY NOT NULL,
    tags TEXT NOT NULL,
    reorder_point BIGINT,
    updated_at TIMESTAMP NOT NULL
);

-- The ledger: append-only movements, idempotent by event id. On-hand is the sum of deltas.
CREATE TABLE movements (
    event_id TEXT PRIMARY KEY NOT NULL,
    location_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    kind TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    delta BIGINT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX movements_by_sku ON movements (sku, location_id);

-- Holds placed for orders (order_id set) and checkouts (order_id empty); the Redis (or in-memory) hold store
-- mirrors the held ones. status: held, released, expired, committed.
CREATE TABLE reservations (
    reservation_id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT,
    channel TEXT NOT NULL,
    location_id TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX reservations_by_order ON reservations (order_id);
CREATE INDEX reservations_due ON reservations (status, expires_at);

CREATE TABLE reservation_lines (
    reservation_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    PRIMARY KEY (reservation_id, sku)
);
CREATE INDEX reservation_lines_by_sku ON reservation_lines (sku);
