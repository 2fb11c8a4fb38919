-- The hold store's generation (DESIGN §4, issue 24): loading the hold store from the ledger bumps it, under the
-- row's lock, in the transaction that reads the ledger; a transaction recording new holds (or stock movements)
-- reads it under a shared lock and records only holds the store placed under the generation still current. So a
-- hold placed in a store that a later load replaced is never acknowledged, across every allocation replica.
CREATE TABLE hold_generation (
    id INTEGER PRIMARY KEY NOT NULL,
    generation BIGINT NOT NULL
);
INSERT INTO hold_generation (id, generation) VALUES (1, 0);
