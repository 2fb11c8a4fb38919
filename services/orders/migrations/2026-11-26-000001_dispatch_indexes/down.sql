DROP INDEX orders_in_flight;
DROP INDEX orders_sent_on_by_status_and_age;
CREATE INDEX orders_by_status_and_age ON orders (status, updated_at);
DROP INDEX orders_waiting;
CREATE INDEX orders_waiting ON orders (promise_by, created_at) WHERE dispatched_at IS NULL;
