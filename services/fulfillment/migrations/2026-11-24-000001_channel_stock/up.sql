-- What each channel may sell per node and SKU once allocation's buffer rules apply (from omni.availability.v1).
CREATE TABLE node_channel_stock (
    location_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    channel TEXT NOT NULL,
    available BIGINT NOT NULL,
    PRIMARY KEY (location_id, sku, channel)
);
