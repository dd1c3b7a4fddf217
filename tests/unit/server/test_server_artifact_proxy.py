"""The artifact proxy in-process: streaming up and down, listings, deletes, UI downloads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from server_app_helpers import SyncASGIClient

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def test_upload_download_list_delete(api: SyncASGIClient, app: Any, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several upload blocks
    assert api.put(f"{PROXY}/1/run/artifacts/dir one/файл.bin", content=data).json() == {}
    assert api.put(f"{PROXY}/1/run/artifacts/top.txt", content=b"top").status_code == 200
    stored = tmp_path / "artifacts" / "1" / "run" / "artifacts" / "dir one" / "файл.bin"
    assert stored.read_bytes() == data

    down = api.get(f"{PROXY}/1/run/artifacts/dir one/файл.bin")
    assert down.status_code == 200 and down.content == data
    assert down.headers["content-length"] == str(len(data))
    assert down.headers["content-type"] == "application/octet-stream"

    listing = api.get(PROXY, params={"path": "1/run/artifacts"}).json()
    assert listing == {
        "files": [
            {"path": "dir one", "is_dir": True},
            {"path": "top.txt", "is_dir": False, "file_size": 3},
        ]
    }
    assert api.get(PROXY, params={"path": "1/run/artifacts/top.txt"}).json() == {}  # a file lists as {}
    assert api.get(PROXY, params={"path": "1/missing"}).json() == {}

    assert api.put(f"{PROXY}/1/run/artifacts/top.txt", content=b"overwritten").status_code == 200
    assert api.get(f"{PROXY}/1/run/artifacts/top.txt").content == b"overwritten"
    assert api.delete(f"{PROXY}/1/run/artifacts/dir one").json() == {}
    assert not stored.exists()
    missing = api.get(f"{PROXY}/1/run/artifacts/dir one/файл.bin")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_run_artifact_listing_and_ui_download(api: SyncASGIClient, run_id: str) -> None:
    run = api.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    api.put(f"{PROXY}/{root}/page.html", content=b"<script>alert(1)</script>")
    api.put(f"{PROXY}/{root}/img/plot.png", content=b"\x89PNG....")
    listing = api.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id}).json()
    assert listing["root_uri"] == run["info"]["artifact_uri"]
    assert listing["files"] == [
        {"path": "img", "is_dir": True},
        {"path": "page.html", "is_dir": False, "file_size": 25},
    ]
    sub = api.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "img"}).json()
    assert sub["files"] == [{"path": "img/plot.png", "is_dir": False, "file_size": 8}]

    html = api.get("/get-artifact", params={"path": "page.html", "run_uuid": run_id})
    assert html.content == b"<script>alert(1)</script>"
    assert html.headers["content-type"].startswith("text/plain")  # never rendered as HTML in our origin
    assert "sandbox" in html.headers["content-security-policy"]
    png = api.get("/get-artifact", params={"path": "img/plot.png", "run_uuid": run_id})
    assert png.headers["content-type"] == "image/png"


def test_multipart_endpoints_say_not_implemented(api: SyncASGIClient) -> None:
    r = api.post("/api/2.0/mlflow-artifacts/mpu/create/1/x.bin", json={"path": "1/x.bin", "num_parts": 2})
    assert r.status_code == 501
    assert r.json()["error_code"] == "NOT_IMPLEMENTED"


def test_no_serve_artifacts_unmounts_the_proxy(tmp_path: Path) -> None:
    from server_app_helpers import make_app

    app = make_app(tmp_path, serve_artifacts=False)
    client = SyncASGIClient(app)
    try:
        assert client.put(f"{PROXY}/1/x", content=b"x").status_code in (404, 405)
        eid = client.post("/api/2.0/mlflow/experiments/create", json={"name": "local"}).json()[
            "experiment_id"
        ]
        location = client.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": eid}).json()[
            "experiment"
        ]["artifact_location"]
        assert location.startswith(str(tmp_path / "artifacts"))
    finally:
        client.close()
        app.state.tracking_store.engine.dispose()


def test_artifacts_only_serves_just_the_proxy(tmp_path: Path) -> None:
    from server_app_helpers import make_app

    app = make_app(tmp_path, artifacts_only=True)
    client = SyncASGIClient(app)
    try:
        assert client.put(f"{PROXY}/a.txt", content=b"a").status_code == 200
        assert client.get(f"{PROXY}/a.txt").content == b"a"
        assert client.post("/api/2.0/mlflow/experiments/create", json={"name": "x"}).status_code == 404
    finally:
        client.close()


class _Chunks:
    """A ChunkStream stand-in that records how far it was read and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.read = 0
        self.closed = False

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        if self.read == self.fail_at:
            raise OSError("disk went away")
        if self.read >= self.count:
            raise StopIteration
        self.read += 1
        return bytes([self.read % 256]) * 10

    def close(self) -> None:
        self.closed = True


def _drain(stream: Any, take: int | None = None) -> list[bytes]:
    import asyncio

    from bakehouse.server.handlers.artifacts import read_ahead

    async def consume() -> list[bytes]:
        got = []
        iterator = read_ahead(stream, depth=3)
        try:
            async for chunk in iterator:
                got.append(chunk)
                if take is not None and len(got) == take:
                    break
        finally:
            await iterator.aclose()
        return got

    return asyncio.run(consume())


def test_read_ahead_yields_every_chunk_in_order_and_closes() -> None:
    stream = _Chunks(50)
    assert _drain(stream) == [bytes([i % 256]) * 10 for i in range(1, 51)]
    assert stream.closed


def test_read_ahead_raises_the_readers_error_and_closes() -> None:
    import pytest

    stream = _Chunks(50, fail_at=7)
    with pytest.raises(OSError, match="disk went away"):
        _drain(stream)
    assert stream.closed


def test_read_ahead_stops_reading_when_the_consumer_stops() -> None:
    import time

    stream = _Chunks(10_000)
    assert len(_drain(stream, take=2)) == 2
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not stream.closed:
        time.sleep(0.01)
    assert stream.closed
    assert stream.read <= 2 + 3 + 1  # bounded: what was taken, the queue's depth, one in the reader's hand
