-- The promise date, for earliest-promise-first dispatch, and when the order was sent on to routing (NULL: it
-- waits in the backlog). Orders taken before this migration were all sent on already.
ALTER TABLE orders ADD COLUMN promise_by TIMESTAMP;
ALTER TABLE orders ADD COLUMN dispatched_at TIMESTAMP;
-- The W3C trace context the order arrived with, so the event announcing it later continues that trace.
ALTER TABLE orders ADD COLUMN traceparent TEXT;
UPDATE orders SET dispatched_at = created_at;
CREATE INDEX orders_waiting ON orders (promise_by, created_at) WHERE dispatched_at IS NULL;
CREATE INDEX orders_by_status_and_age ON orders (status, updated_at);

-- The catalog as intake checks partner orders against it (from omni.catalog.v1).
CREATE TABLE known_skus (
    sku TEXT PRIMARY KEY NOT NULL,
    price_minor BIGINT,
    price_currency TEXT
);
CREATE TABLE known_locations (
    id TEXT PRIMARY KEY NOT NULL,
    capabilities TEXT NOT NULL
);
