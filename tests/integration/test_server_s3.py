"""Artifacts on a real S3 API over HTTP (moto's server on 127.0.0.1): the proxy with an S3 destination, and
experiments whose artifact root is a direct ``s3://`` URI, both driven by the official mlflow client."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient

pytestmark = [pytest.mark.s3, pytest.mark.timeout(300)]


def _keys(bucket: str) -> list[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["BAKEHOUSE_S3_ENDPOINT_URL"], region_name="us-east-1")
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_proxy_streams_to_an_s3_destination(bakehouse_server, s3_bucket, tmp_path: Path) -> None:
    server = bakehouse_server(artifacts_destination=f"s3://{s3_bucket}/proxied")
    client = MlflowClient(tracking_uri=server.url)
    eid = client.create_experiment(f"s3-{uuid.uuid4().hex[:8]}")
    rid = client.create_run(eid).info.run_id
    src = tmp_path / "src"
    (src / "nested dir").mkdir(parents=True)
    files = {
        "small.txt": b"bakehouse on s3",
        "nested dir/ünïcode.bin": os.urandom(100_000),
        "big.bin": os.urandom(24 * 1024 * 1024 + 5),  # several S3 multipart parts through the stream
    }
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    client.log_artifacts(rid, str(src), "out")

    prefix = f"proxied/{eid}/{rid}/artifacts/out/"
    assert _keys(s3_bucket) == sorted(prefix + rel for rel in files)
    listed = {f.path: f.file_size for f in client.list_artifacts(rid, "out")}
    assert listed == {"out/big.bin": len(files["big.bin"]), "out/nested dir": None, "out/small.txt": 15}
    out = Path(client.download_artifacts(rid, "out", str(tmp_path / "dl")))
    for rel, data in files.items():
        assert hashlib.sha256((out / rel).read_bytes()).digest() == hashlib.sha256(data).digest(), rel


def test_direct_s3_artifact_root(bakehouse_server, s3_bucket, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", os.environ["BAKEHOUSE_S3_ENDPOINT_URL"])
    server = bakehouse_server(extra_args=["--default-artifact-root", f"s3://{s3_bucket}/direct"])
    client = MlflowClient(tracking_uri=server.url)
    eid = client.create_experiment(f"direct-{uuid.uuid4().hex[:8]}")
    assert client.get_experiment(eid).artifact_location == f"s3://{s3_bucket}/direct/{eid}"
    rid = client.create_run(eid).info.run_id
    client.log_text(rid, "written by the client straight to S3", "notes/hello.txt")
    assert _keys(s3_bucket) == [f"direct/{eid}/{rid}/artifacts/notes/hello.txt"]
    # the server reads the same bucket for its own listings and the UI download route
    import httpx

    listing = httpx.get(
        f"{server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": rid, "path": "notes"}
    ).json()
    assert listing["files"] == [{"path": "notes/hello.txt", "is_dir": False, "file_size": 36}]
    body = httpx.get(f"{server.url}/get-artifact", params={"run_uuid": rid, "path": "notes/hello.txt"})
    assert body.content == b"written by the client straight to S3"
    assert mlflow.artifacts.load_text(
        f"s3://{s3_bucket}/direct/{eid}/{rid}/artifacts/notes/hello.txt"
    ).startswith("written")
