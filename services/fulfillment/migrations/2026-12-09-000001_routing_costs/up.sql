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
