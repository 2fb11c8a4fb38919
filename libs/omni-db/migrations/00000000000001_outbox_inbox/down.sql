DROP TABLE omni_inbox; DROP TABLE omni_outbox;
