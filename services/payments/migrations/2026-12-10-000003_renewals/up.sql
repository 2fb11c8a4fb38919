-- Renewing card authorizations before they lapse (issue 22). An intent keeps who placed its order (a card pays only
-- their orders, also when it is authorized again) and when its next authorization is due for renewal: the timer
-- picks intents by `renew_at`. Intents from before have no payer and are not renewed.
ALTER TABLE payment_intents ADD COLUMN payer TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_intents ADD COLUMN customer_id TEXT;
ALTER TABLE payment_intents ADD COLUMN renew_at TIMESTAMP;
CREATE INDEX payment_intents_by_renewal ON payment_intents (renew_at);
