ALTER TABLE skus DROP COLUMN price_currency;
ALTER TABLE skus DROP COLUMN price_minor;
