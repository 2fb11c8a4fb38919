DROP TABLE routed_orders;
DROP INDEX fulfillments_by_day;
ALTER TABLE fulfillments DROP COLUMN units;
