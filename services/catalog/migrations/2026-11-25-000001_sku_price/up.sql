-- A SKU's list price (minor units and currency); tills sell at it unless a manager overrides.
ALTER TABLE skus ADD COLUMN price_minor BIGINT;
ALTER TABLE skus ADD COLUMN price_currency TEXT;
