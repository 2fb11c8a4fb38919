DROP TABLE store_task_lines;
DROP TABLE store_tasks;
ALTER TABLE fulfillments DROP COLUMN method;
ALTER TABLE fulfillments DROP COLUMN lines;
