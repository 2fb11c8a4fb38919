-- What came back of each order (issue 23), from returns' `omni.return.unit_graded` events of units that came,
-- each event counted once (the inbox): JSON, units per SKU, e.g. {"TEE-1": 1}.
ALTER TABLE orders ADD COLUMN returned TEXT NOT NULL DEFAULT '{}';
