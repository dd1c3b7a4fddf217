"""The short-lived server `bakehouse run` gives the official client on a local store: real HTTP on
127.0.0.1, the same SQLite store, and a token that only the run's processes know."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bakehouse.client.client import Client
from bakehouse.server.bridge import serve_local_store


def test_the_bridge_serves_the_store_only_to_holders_of_its_token(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    local = Client(tracking_uri=uri)
    run_id = local.create_run("0").info.run_id
    with serve_local_store(uri, str(tmp_path / "artifacts")) as bridge:
        assert bridge.url.startswith("http://127.0.0.1:")
        get = f"{bridge.url}/api/2.0/mlflow/runs/get"
        refused = httpx.get(get, params={"run_id": run_id}, timeout=10)
        assert refused.status_code == 401 and refused.json()["error_code"] == "UNAUTHENTICATED"
        wrong = httpx.get(
            get, params={"run_id": run_id}, headers={"Authorization": "Bearer nope"}, timeout=10
        )
        assert wrong.status_code == 401
        auth = {"Authorization": f"Bearer {bridge.token}"}
        answer = httpx.get(get, params={"run_id": run_id}, headers=auth, timeout=10)
        assert answer.status_code == 200 and answer.json()["run"]["info"]["run_id"] == run_id
        logged = httpx.post(
            f"{bridge.url}/api/2.0/mlflow/runs/log-metric",
            json={"run_id": run_id, "key": "acc", "value": 0.9, "timestamp": 1, "step": 0},
            headers=auth,
            timeout=10,
        )
        assert logged.status_code == 200
        url = bridge.url
    assert local.get_run(run_id).data.metrics == {"acc": 0.9}  # the same store
    with pytest.raises(httpx.TransportError):  # stopped with the run
        httpx.get(url + "/health", timeout=2)
