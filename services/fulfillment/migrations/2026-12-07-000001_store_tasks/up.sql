-- What a fulfillment asks of its node: the lines routing sourced there and how they reach the customer, kept at
-- sourcing so the store task can be made when the order is released. Fulfillments sourced before this migration
-- have none ('[]'): they are released without a task, as before.
ALTER TABLE fulfillments ADD COLUMN lines TEXT NOT NULL DEFAULT '[]';
ALTER TABLE fulfillments ADD COLUMN method TEXT NOT NULL DEFAULT 'ship';

-- Store tasks (DESIGN §5): one per released fulfillment. `version` counts every change; a change is written only
-- over the version it was decided on, so two associates (or an associate and a timer) never both win.
CREATE TABLE store_tasks (
    id TEXT PRIMARY KEY NOT NULL,
    fulfillment_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    method TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    accept_by TIMESTAMP NOT NULL,
    -- JSON: the parcels, once packed.
    parcels TEXT NOT NULL DEFAULT '[]',
    carrier TEXT,
    tracking TEXT,
    bay TEXT,
    vehicle TEXT,
    runner TEXT,
    -- Pickup, curbside: the SHA-256 of the customer's pickup code (the code itself is never stored).
    pickup_code_hash TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX store_tasks_by_fulfillment ON store_tasks (fulfillment_id);
-- The store's queue: its tasks in a state, earliest deadline first.
CREATE INDEX store_tasks_queue ON store_tasks (location_id, state, accept_by, id);

-- Each line's units by bucket; they always add up to `ordered`. `line_no` keeps the order's line order.
CREATE TABLE store_task_lines (
    task_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    ordered INTEGER NOT NULL,
    open INTEGER NOT NULL,
    picked INTEGER NOT NULL,
    short INTEGER NOT NULL,
    packed INTEGER NOT NULL,
    staged INTEGER NOT NULL,
    handed_over INTEGER NOT NULL,
    shipped INTEGER NOT NULL,
    released INTEGER NOT NULL,
    PRIMARY KEY (task_id, sku)
);
