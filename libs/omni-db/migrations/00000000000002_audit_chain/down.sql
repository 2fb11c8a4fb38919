DROP INDEX omni_audit_log_by_time;
DROP INDEX omni_audit_log_unsealed;
DROP INDEX omni_audit_log_by_seq;
ALTER TABLE omni_audit_log DROP COLUMN hash;
ALTER TABLE omni_audit_log DROP COLUMN prev_hash;
ALTER TABLE omni_audit_log DROP COLUMN seq;
ALTER TABLE omni_audit_log DROP COLUMN trace_id;
ALTER TABLE omni_audit_log DROP COLUMN request_id;
