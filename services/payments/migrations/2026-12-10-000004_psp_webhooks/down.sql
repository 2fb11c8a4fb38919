DROP TABLE psp_webhooks;
DROP TABLE payment_batches;
