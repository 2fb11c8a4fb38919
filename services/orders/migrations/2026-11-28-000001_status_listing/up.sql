-- Listing by status (`GET /v1/orders?status=…`, oldest first) reads the page it returns, and taking an order writes
-- one index entry fewer. Before, orders_by_status held every order by status alone: a page of a common status had to
-- fetch and sort every order in it, and each new order was one more entry to insert (8–9 % of PostgreSQL's time
-- storing a batch of partner orders).
--
-- Now the orders sent on to routing are listed from this index, in id order; the few not sent on yet (the backlog,
-- and orders cancelled while waiting) from orders_waiting, whose predicate they match. A new order enters this index
-- when it is sent on, an update that rewrites its index entries anyway.
DROP INDEX orders_by_status;
CREATE INDEX orders_sent_on_by_status ON orders (status, id) WHERE dispatched_at IS NOT NULL;
