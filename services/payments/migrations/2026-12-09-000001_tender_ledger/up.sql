-- Each tender's money (DESIGN §6, issue 22): buckets changed only by recorded PSP operations, `domain/ledger.rs`.
-- The invariants are the database's too: nothing negative, captured and voided within what is authorized and
-- settled, refunded within what is captured and settled, counting pending amounts the way that could break them.
CREATE TABLE tender_money (
    intent_id TEXT NOT NULL,
    tender INTEGER NOT NULL,
    authorized BIGINT NOT NULL,
    authorized_pending BIGINT NOT NULL,
    captured BIGINT NOT NULL,
    captured_pending BIGINT NOT NULL,
    refunded BIGINT NOT NULL,
    refunded_pending BIGINT NOT NULL,
    voided BIGINT NOT NULL,
    voided_pending BIGINT NOT NULL,
    PRIMARY KEY (intent_id, tender),
    CONSTRAINT tender_money_not_negative CHECK (
        authorized >= 0 AND authorized_pending >= 0 AND captured >= 0 AND captured_pending >= 0
        AND refunded >= 0 AND refunded_pending >= 0 AND voided >= 0 AND voided_pending >= 0
    ),
    CONSTRAINT tender_money_captured_within_authorized CHECK (
        captured + captured_pending + voided + voided_pending <= authorized
    ),
    CONSTRAINT tender_money_refunded_within_captured CHECK (refunded + refunded_pending <= captured)
);

-- Every operation asked of the PSP for a tender, by its idempotency key, written before the call, and where it
-- stands (`waiting`: done by the PSP, its prerequisite not recorded yet). `seq` keeps the order they came in.
CREATE TABLE tender_operations (
    id TEXT PRIMARY KEY NOT NULL,
    intent_id TEXT NOT NULL,
    tender INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('authorize', 'capture', 'refund', 'void')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'waiting')),
    seq BIGINT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX tender_operations_by_tender ON tender_operations (intent_id, tender, seq);
