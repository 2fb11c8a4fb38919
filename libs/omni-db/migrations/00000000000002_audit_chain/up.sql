-- The audit log becomes a hash chain (DESIGN §8): each entry is sealed, in the order the sealer finds them, with a
-- sequence number and the SHA-256 of its fields and the previous entry's hash, so `omni audit verify` finds an
-- entry deleted or edited after it was sealed. Entries also name the request and the trace that caused them.
ALTER TABLE omni_audit_log ADD COLUMN request_id TEXT;
ALTER TABLE omni_audit_log ADD COLUMN trace_id TEXT;
ALTER TABLE omni_audit_log ADD COLUMN seq BIGINT;
ALTER TABLE omni_audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE omni_audit_log ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX omni_audit_log_by_seq ON omni_audit_log (seq);
-- What the sealer takes next, and what the audit route filters on.
CREATE INDEX omni_audit_log_unsealed ON omni_audit_log (recorded_at, id) WHERE seq IS NULL;
CREATE INDEX omni_audit_log_by_time ON omni_audit_log (recorded_at, id);
