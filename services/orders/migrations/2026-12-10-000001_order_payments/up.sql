-- What payments reported of an order's money (issue 22), summed from `omni.payment.captured`, `voided` and
-- `refunded`, each event counted once (the saga's inbox): the order shows paid, refunded and due amounts.
ALTER TABLE orders ADD COLUMN captured_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN voided_minor BIGINT NOT NULL DEFAULT 0;
