-- Who placed each order (`partner:<id>` or `principal:<name>`): payments lets a card token pay an order only if
-- this payer tokenized it (DESIGN §6). Orders from before this migration have none ('') and their cards pay
-- nothing new; orders keep a card's payment-method reference from now on, never its token.
ALTER TABLE orders ADD COLUMN placed_by TEXT NOT NULL DEFAULT '';
