-- Store credit issued for money owed on an order (issue 23: a return refunded as store credit) names the order, so
-- what is issued for an order never exceeds what the order paid (captured less refunded).
ALTER TABLE stored_value_cards ADD COLUMN order_id TEXT;
CREATE INDEX stored_value_cards_by_order ON stored_value_cards (order_id);
