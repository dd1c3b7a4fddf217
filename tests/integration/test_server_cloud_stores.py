"""Artifacts in Google Cloud Storage and Azure Blob Storage, on their emulators (fake-gcs-server, Azurite) on
127.0.0.1: a ``bakehouse server`` whose ``--artifacts-destination`` is each store (the proxy), and experiments
whose artifact root is a direct ``gs://`` / ``wasbs://`` URI, both driven by the official mlflow client.

The emulators are reached the way the client libraries reach the clouds (STORAGE_EMULATOR_HOST,
AZURE_STORAGE_CONNECTION_STRING, exported by the session fixtures), so mlflow's own GCS and Azure code reads
what Bakehouse wrote and the other way round.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient

pytestmark = pytest.mark.timeout(300)

ACCOUNT = "devstoreaccount1"  # Azurite's development account


def _gcs_keys(bucket: str) -> list[str]:
    from google.cloud import storage

    return sorted(blob.name for blob in storage.Client().list_blobs(bucket))


def _azure_keys(container: str) -> list[str]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    return sorted(blob.name for blob in service.get_container_client(container).list_blobs())


def _sample_tree(root: Path) -> dict[str, bytes]:
    (root / "nested dir").mkdir(parents=True)
    files = {
        "small.txt": b"bakehouse in the cloud",
        "nested dir/ünïcode.bin": os.urandom(100_000),
        "big.bin": os.urandom(20 * 1024 * 1024 + 5),  # several parts/blocks of a streamed upload
    }
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    return files


def _round_trip_through_proxy(server: Any, tmp_path: Path) -> tuple[str, str, dict[str, bytes]]:
    client = MlflowClient(tracking_uri=server.url)
    eid = client.create_experiment(f"cloud-{uuid.uuid4().hex[:8]}")
    rid = client.create_run(eid).info.run_id
    files = _sample_tree(tmp_path / "src")
    client.log_artifacts(rid, str(tmp_path / "src"), "out")
    listed = {f.path: f.file_size for f in client.list_artifacts(rid, "out")}
    assert listed == {"out/big.bin": len(files["big.bin"]), "out/nested dir": None, "out/small.txt": 22}
    out = Path(client.download_artifacts(rid, "out", str(tmp_path / "dl")))
    for rel, data in files.items():
        assert hashlib.sha256((out / rel).read_bytes()).digest() == hashlib.sha256(data).digest(), rel
    return eid, rid, files


def test_proxy_streams_to_a_gcs_destination(bakehouse_server: Any, gcs_bucket: str, tmp_path: Path) -> None:
    server = bakehouse_server(artifacts_destination=f"gs://{gcs_bucket}/proxied")
    eid, rid, files = _round_trip_through_proxy(server, tmp_path)
    prefix = f"proxied/{eid}/{rid}/artifacts/out/"
    assert _gcs_keys(gcs_bucket) == sorted(prefix + rel for rel in files)
    # deleting through the proxy removes the objects
    client = MlflowClient(tracking_uri=server.url)
    response = httpx.delete(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{eid}/{rid}/artifacts/out/small.txt"
    )
    assert response.status_code == 200, response.text
    assert f"{prefix}small.txt" not in _gcs_keys(gcs_bucket)
    assert {f.path for f in client.list_artifacts(rid, "out")} == {"out/big.bin", "out/nested dir"}


def test_proxy_streams_to_an_azure_destination(
    bakehouse_server: Any, azure_container: str, tmp_path: Path
) -> None:
    server = bakehouse_server(
        artifacts_destination=f"wasbs://{azure_container}@{ACCOUNT}.blob.core.windows.net/proxied"
    )
    eid, rid, files = _round_trip_through_proxy(server, tmp_path)
    prefix = f"proxied/{eid}/{rid}/artifacts/out/"
    assert _azure_keys(azure_container) == sorted(prefix + rel for rel in files)


def test_proxy_to_an_abfss_destination(bakehouse_server: Any, azure_container: str, tmp_path: Path) -> None:
    server = bakehouse_server(
        artifacts_destination=f"abfss://{azure_container}@{ACCOUNT}.dfs.core.windows.net/lake"
    )
    client = MlflowClient(tracking_uri=server.url)
    eid = client.create_experiment(f"abfss-{uuid.uuid4().hex[:8]}")
    rid = client.create_run(eid).info.run_id
    client.log_text(rid, "through the data lake form", "notes/a.txt")
    assert _azure_keys(azure_container) == [f"lake/{eid}/{rid}/artifacts/notes/a.txt"]
    local = client.download_artifacts(rid, "notes/a.txt", str(tmp_path))
    assert Path(local).read_text() == "through the data lake form"


def test_direct_gcs_artifact_root_written_by_mlflow_read_by_the_server(
    bakehouse_server: Any, gcs_bucket: str
) -> None:
    server = bakehouse_server(extra_args=["--default-artifact-root", f"gs://{gcs_bucket}/direct"])
    client = MlflowClient(tracking_uri=server.url)
    eid = client.create_experiment(f"direct-{uuid.uuid4().hex[:8]}")
    assert client.get_experiment(eid).artifact_location == f"gs://{gcs_bucket}/direct/{eid}"
    rid = client.create_run(eid).info.run_id
    client.log_text(rid, "written by mlflow straight to GCS", "notes/hello.txt")  # mlflow's own GCS code
    assert _gcs_keys(gcs_bucket) == [f"direct/{eid}/{rid}/artifacts/notes/hello.txt"]
    listing = httpx.get(
        f"{server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": rid, "path": "notes"}
    ).json()
    assert listing["files"] == [{"path": "notes/hello.txt", "is_dir": False, "file_size": 33}]
    body = httpx.get(f"{server.url}/get-artifact", params={"run_uuid": rid, "path": "notes/hello.txt"})
    assert body.content == b"written by mlflow straight to GCS"


def test_direct_azure_artifact_root_written_by_bakehouse_read_by_mlflow(
    bakehouse_server: Any, azure_container: str, tmp_path: Path
) -> None:
    import bakehouse as bh

    root = f"wasbs://{azure_container}@{ACCOUNT}.blob.core.windows.net/direct"
    server = bakehouse_server(extra_args=["--default-artifact-root", root])
    client = bh.Client(tracking_uri=server.url)
    eid = client.create_experiment(f"direct-{uuid.uuid4().hex[:8]}")
    rid = client.create_run(eid).info.run_id
    (tmp_path / "m.txt").write_text("written by bakehouse straight to Azure")
    client.log_artifact(rid, str(tmp_path / "m.txt"), "notes")
    assert _azure_keys(azure_container) == [f"direct/{eid}/{rid}/artifacts/notes/m.txt"]
    # mlflow's own Azure repository reads it back through the same connection string
    assert mlflow.artifacts.load_text(f"{root}/{eid}/{rid}/artifacts/notes/m.txt") == (
        "written by bakehouse straight to Azure"
    )
