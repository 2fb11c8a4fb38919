DROP INDEX returns_by_exchange_order;
ALTER TABLE returns DROP COLUMN exchange_order_id;
ALTER TABLE returns DROP COLUMN exchange;
