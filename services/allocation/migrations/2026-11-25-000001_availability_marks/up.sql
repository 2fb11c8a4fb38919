-- SKUs whose availability changed and is not published yet. A change (a hold, a release, a movement, a rule)
-- inserts a mark in its own transaction; the availability publisher turns the marks into one event per SKU and
-- deletes them in its transaction. Inserts only on the hot path: no row is shared between writers.
CREATE TABLE availability_marks (
    id TEXT PRIMARY KEY NOT NULL,
    sku TEXT NOT NULL
);
