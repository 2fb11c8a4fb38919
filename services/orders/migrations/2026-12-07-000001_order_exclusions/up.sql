-- The nodes that refused an order's hold, one row each, in the order they refused (`attempt`: the re-route that
-- excluded it, from 1), instead of a comma-separated column.
CREATE TABLE order_exclusions (
    order_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    PRIMARY KEY (order_id, location_id)
);

-- The old column's lists, split one character at a time (PostgreSQL and SQLite share no string-split function):
-- `token` collects a code's characters, and a row whose next character is the comma closes it.
INSERT INTO order_exclusions (order_id, location_id, attempt)
WITH RECURSIVE split (order_id, token, rest, attempt) AS (
    SELECT id, CAST('' AS TEXT), excluded_locations || ',', 1
    FROM orders
    WHERE excluded_locations <> ''
    UNION ALL
    SELECT order_id,
           CASE WHEN substr(rest, 1, 1) = ',' THEN '' ELSE token || substr(rest, 1, 1) END,
           substr(rest, 2),
           CASE WHEN substr(rest, 1, 1) = ',' AND token <> '' THEN attempt + 1 ELSE attempt END
    FROM split
    WHERE rest <> ''
)
SELECT order_id, token, MIN(attempt)
FROM split
WHERE substr(rest, 1, 1) = ',' AND token <> ''
GROUP BY order_id, token;

ALTER TABLE orders DROP COLUMN excluded_locations;
