DROP INDEX returns_overdue;
