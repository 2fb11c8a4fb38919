-- Returns waiting for their items, by when they expire (the expiry job reads them every second).
CREATE INDEX returns_overdue ON returns (status, expires_at);
