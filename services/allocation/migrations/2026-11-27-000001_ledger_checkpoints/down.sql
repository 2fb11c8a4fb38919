DROP TABLE stock_checkpoints;
DROP INDEX movements_tail;
ALTER TABLE movements DROP COLUMN written_by;
