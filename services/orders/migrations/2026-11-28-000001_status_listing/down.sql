DROP INDEX orders_sent_on_by_status;
CREATE INDEX orders_by_status ON orders (status);
