-- Read models routing decides from: nodes (from omni.catalog.v1) and their stock (from omni.availability.v1).
CREATE TABLE nodes (
    location_id TEXT PRIMARY KEY NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    -- Comma-separated: ship,pickup,curbside
    capabilities TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE node_stock (
    location_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    atp BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (location_id, sku)
);

-- Sourcing decisions and fulfillments, with the explanation of each decision.
CREATE TABLE fulfillments (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    status TEXT NOT NULL,
    -- JSON: candidates with distances and reasons, and the deciding rule.
    explanation TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX fulfillments_by_order ON fulfillments (order_id);
