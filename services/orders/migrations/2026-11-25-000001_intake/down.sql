DROP TABLE known_locations;
DROP TABLE known_skus;
DROP INDEX orders_by_status_and_age;
DROP INDEX orders_waiting;
ALTER TABLE orders DROP COLUMN traceparent;
ALTER TABLE orders DROP COLUMN dispatched_at;
ALTER TABLE orders DROP COLUMN promise_by;
