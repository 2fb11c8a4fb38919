-- A return's replacement order: the exchange it was made for (return, order returned from, credit), as JSON.
ALTER TABLE orders ADD COLUMN exchange_for TEXT;
