DROP TABLE omni_audit_log; DROP TABLE omni_inbox; DROP TABLE omni_outbox;
