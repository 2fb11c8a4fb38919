DROP TABLE stored_value_movements;
DROP TABLE stored_value_cards;
