"""The web UI: a dependency-free ES-module single-page app plus a few UI-only JSON helpers.

The app talks to the standard ``/ajax-api/2.0/mlflow/...`` REST API; ``routes.ui_routes`` serves the
static files (gzip, immutable caching under a content-hash path) and the helper endpoints.
"""

from __future__ import annotations

from bakehouse.server.ui.routes import ui_routes

__all__ = ["ui_routes"]
