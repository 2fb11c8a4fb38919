-- The CloudEvents id (`ce_id`) of the partner message an order arrived in. Intake recognises a redelivery of that
-- message by the order itself, so it writes no inbox row per order: only a partner's resend (same partner order,
-- another `ce_id`) is claimed in the inbox, when it is acknowledged. Orders taken before this migration have their
-- `ce_id` in the inbox, which intake still consults.
ALTER TABLE orders ADD COLUMN intake_event_id TEXT;
