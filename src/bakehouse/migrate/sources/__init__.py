"""Where a migration reads from: an MLflow database, an ``./mlruns`` tree, or a tracking server."""
