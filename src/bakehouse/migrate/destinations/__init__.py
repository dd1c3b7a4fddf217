"""Where a migration writes to: a Bakehouse database, a Bakehouse server, or an MLflow server."""
