-- The dispatcher and the saga's clocks read only the orders they act on, however large the backlog or the
-- history. Before, counting the orders in flight read every accepted order (the backlog included) through
-- orders_by_status, and picking the next orders to send sorted the whole backlog, on every round: intake and
-- dispatch slowed down as the backlog grew.

-- The backlog in dispatch order (the dispatcher's ORDER BY): the next orders are the first entries.
DROP INDEX orders_waiting;
CREATE INDEX orders_waiting ON orders ((promise_by IS NULL), promise_by, created_at, id) WHERE dispatched_at IS NULL;

-- Orders sent on, by status and age: the clocks' stale orders.
DROP INDEX orders_by_status_and_age;
CREATE INDEX orders_sent_on_by_status_and_age ON orders (status, updated_at) WHERE dispatched_at IS NOT NULL;

-- The orders in flight (accepted and sent on, no hold yet), counted before every dispatch round. Its predicate
-- is written as a literal in that query too, so a prepared statement's generic plan can use it.
CREATE INDEX orders_in_flight ON orders (id) WHERE status = 'accepted' AND dispatched_at IS NOT NULL;
