ALTER TABLE orders DROP COLUMN intake_event_id;
