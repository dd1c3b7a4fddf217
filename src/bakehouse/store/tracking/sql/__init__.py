"""The SQL tracking store (SQLite, PostgreSQL, MySQL) split by concern; ``store.SqlTrackingStore`` composes it."""
