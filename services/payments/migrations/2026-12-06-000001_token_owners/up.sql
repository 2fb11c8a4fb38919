-- Card tokens are bound to whoever tokenized them (DESIGN §6): a token pays only orders placed by its owner
-- (`partner:<id>` for any key of a partner, `principal:<name>` otherwise) and, when the tokenization named one,
-- of its customer. Orders never see the token again: they keep the card's payment-method reference, a one-way
-- digest of the token stored here so that payments finds the card from it.
-- Tokens from before this migration have no owner ('') and pay nothing: tokenize the card again.
ALTER TABLE vault_cards ADD COLUMN reference TEXT;
ALTER TABLE vault_cards ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE vault_cards ADD COLUMN customer_id TEXT;
CREATE UNIQUE INDEX vault_cards_by_reference ON vault_cards (reference);
