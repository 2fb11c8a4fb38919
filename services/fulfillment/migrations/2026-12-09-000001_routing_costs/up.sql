-- Units a fulfillment asks of its node, so routing can weigh what each node has been given today against its
-- daily pick capacity without reading every fulfillment's lines.
ALTER TABLE fulfillments ADD COLUMN units INTEGER NOT NULL DEFAULT 0;
CREATE INDEX fulfillments_by_day ON fulfillments (created_at, location_id);

-- The last routing request of each order (channel, delivery, lines, promise), and what it was decided: what a
-- what-if replays against a draft rule set.
CREATE TABLE routed_orders (
    order_id TEXT PRIMARY KEY NOT NULL,
    request TEXT NOT NULL,
    decided TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL
);
CREATE INDEX routed_orders_by_time ON routed_orders (decided_at);

-- What a VIP, a pre-order or a curbside pickup may sell per node and SKU where ring-fences make it differ from
-- its channel's figure (omni.availability.v1's `fenced`): routing sees the figures of the order's own segment and
-- tier. `segment` is '' for a tier alone.
CREATE TABLE node_fenced_stock (
    location_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    channel TEXT NOT NULL,
    tier TEXT NOT NULL,
    segment TEXT NOT NULL,
    available BIGINT NOT NULL,
    PRIMARY KEY (sku, channel, tier, segment, location_id)
);
