DROP INDEX payment_intents_order_id;
DROP TABLE payment_intents;
DROP TABLE vault_cards;
DROP TABLE data_keys;
