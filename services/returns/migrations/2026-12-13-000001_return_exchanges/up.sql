-- An exchange: the replacement order a return asks for (`exchange`, the contract's JSON: its lines, delivery,
-- credit, tenders by reference and where it stands) and its id, by which the replacement order's own events are
-- matched to the return.
ALTER TABLE returns ADD COLUMN exchange TEXT;
ALTER TABLE returns ADD COLUMN exchange_order_id TEXT;
CREATE INDEX returns_by_exchange_order ON returns (exchange_order_id);
