DROP TABLE node_fenced_stock;
DROP TABLE routed_orders;
DROP INDEX fulfillments_by_day;
ALTER TABLE fulfillments DROP COLUMN units;
