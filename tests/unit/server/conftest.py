"""Fixtures: an in-process server app over a fresh SQLite store, driven through ``httpx.ASGITransport``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_app_helpers import SyncASGIClient, make_app


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = make_app(tmp_path)
    yield application
    engine = getattr(application.state.tracking_store, "engine", None)
    if engine is not None:
        engine.dispose()


@pytest.fixture
def api(app: Any) -> Iterator[SyncASGIClient]:
    client = SyncASGIClient(app)
    yield client
    client.close()


@pytest.fixture
def run_id(api: SyncASGIClient) -> str:
    eid = api.post("/api/2.0/mlflow/experiments/create", json={"name": "unit"}).json()["experiment_id"]
    return str(
        api.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid}).json()["run"]["info"]["run_id"]
    )
