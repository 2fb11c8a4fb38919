DROP INDEX stored_value_cards_by_order;
ALTER TABLE stored_value_cards DROP COLUMN order_id;
