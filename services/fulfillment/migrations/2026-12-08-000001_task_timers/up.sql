-- The order's promise (ship-by, pickup-by), kept at sourcing: a store task's `ready_by`.
ALTER TABLE fulfillments ADD COLUMN promise_by TIMESTAMP;

-- What fulfillment knows of a node beyond where it is: its kind (windows are settings per kind), its curbside
-- bays (numbered 1 to n) and how many units it can pick a day (none: no limit).
ALTER TABLE nodes ADD COLUMN kind TEXT NOT NULL DEFAULT 'store';
ALTER TABLE nodes ADD COLUMN curbside_bays INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN pick_capacity INTEGER;

-- The times a task's timers run from, and the one-off reports already made. Tasks made before have their
-- accept-by as ready-by.
ALTER TABLE store_tasks ADD COLUMN ready_by TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE store_tasks SET ready_by = accept_by;
ALTER TABLE store_tasks ADD COLUMN ready_at TIMESTAMP;
ALTER TABLE store_tasks ADD COLUMN arrived_at TIMESTAMP;
ALTER TABLE store_tasks ADD COLUMN reminded BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE store_tasks ADD COLUMN ready_late BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE store_tasks ADD COLUMN handover_late BOOLEAN NOT NULL DEFAULT FALSE;
-- The earliest deadline of its timers (the queue's order); a done task keeps its last one.
ALTER TABLE store_tasks ADD COLUMN deadline TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE store_tasks SET deadline = accept_by;
DROP INDEX store_tasks_queue;
CREATE INDEX store_tasks_queue ON store_tasks (location_id, state, deadline, id);

-- Durable timers (DESIGN §5): one row per task and kind, re-armed at every change of the task with the version it
-- was armed at; a firing applies only to that version, so a stale one changes nothing.
CREATE TABLE store_task_timers (
    task_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (task_id, kind)
);
CREATE INDEX store_task_timers_due ON store_task_timers (due_at);
INSERT INTO store_task_timers (task_id, kind, due_at, version)
    SELECT id, 'accept_by', accept_by, version FROM store_tasks WHERE state = 'created';

-- Pickup codes tried and found wrong, by task and by client address: what limits guessing (across replicas).
CREATE TABLE pickup_code_failures (
    id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT NOT NULL,
    client TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX pickup_code_failures_by_task ON pickup_code_failures (task_id, at);
CREATE INDEX pickup_code_failures_by_client ON pickup_code_failures (client, at);
