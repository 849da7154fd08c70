"""SQL storage (SQLite and PostgreSQL): the event log, projections and repositories."""
