-- The PSP boundary (issue 22). A batch of PSP operations (a capture, the voids of an order, a refund) is announced
-- once: by whichever run, retry or webhook first sees all of its results recorded and claims it here.
CREATE TABLE payment_batches (
    intent_id TEXT NOT NULL,
    name TEXT NOT NULL,
    announced_at TIMESTAMP NOT NULL,
    PRIMARY KEY (intent_id, name)
);

-- PSP webhooks taken, by the PSP's event id: a webhook delivered again is acknowledged and changes nothing.
CREATE TABLE psp_webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    psp TEXT NOT NULL,
    kind TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
