DROP INDEX vault_cards_by_reference;
ALTER TABLE vault_cards DROP COLUMN customer_id;
ALTER TABLE vault_cards DROP COLUMN owner;
ALTER TABLE vault_cards DROP COLUMN reference;
