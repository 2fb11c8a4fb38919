DROP INDEX payment_intents_by_renewal;
ALTER TABLE payment_intents DROP COLUMN renew_at;
ALTER TABLE payment_intents DROP COLUMN customer_id;
ALTER TABLE payment_intents DROP COLUMN payer;
