"""The shared fixtures of tests/conftest.py do what every other test relies on."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_tmp_tracking_uri(tmp_tracking_uri: str, tmp_path: Path) -> None:
    assert tmp_tracking_uri == f"sqlite:///{tmp_path / 'bakehouse.db'}"
    assert os.environ["BAKEHOUSE_TRACKING_URI"] == tmp_tracking_uri
    assert Path.cwd() == tmp_path


def test_bakehouse_server_serves_and_stops(bakehouse_server, tmp_path: Path) -> None:
    server = bakehouse_server()
    with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
        assert response.status == 200
    created = _post(server.url + "/api/2.0/mlflow/experiments/create", {"name": "via-fixture"})
    got = _get(server.url + f"/api/2.0/mlflow/experiments/get?experiment_id={created['experiment_id']}")
    assert got["experiment"]["name"] == "via-fixture"
    assert server.log_path.exists()
    pid = server.proc.pid
    server.stop()
    assert server.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    server.stop()  # idempotent


def test_bakehouse_server_reports_its_log_when_it_cannot_start(bakehouse_server) -> None:
    with pytest.raises(pytest.fail.Exception) as failure:
        bakehouse_server(backend_store_uri="bogus-scheme://nowhere", timeout=30)
    message = str(failure.value)
    assert "exited with code" in message or "not healthy" in message
    assert "bogus" in message  # the server's own log is part of the failure


@pytest.mark.postgres
def test_postgres_uri_is_a_fresh_database(postgres_uri: str) -> None:
    import psycopg

    assert postgres_uri.startswith("postgresql+psycopg://")
    with psycopg.connect(postgres_uri.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert postgres_uri.endswith("/" + name)
    assert tables[0] == 0


@pytest.mark.postgres
@pytest.mark.s3
def test_server_on_postgres_and_s3(bakehouse_server, postgres_uri: str, s3_bucket: str) -> None:
    import boto3

    server = bakehouse_server(backend_store_uri=postgres_uri, artifacts_destination=f"s3://{s3_bucket}/root")
    experiment_id = _post(server.url + "/api/2.0/mlflow/experiments/create", {"name": "pg-s3"})[
        "experiment_id"
    ]
    run = _post(server.url + "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id})["run"]
    run_id = run["info"]["run_id"]
    request = urllib.request.Request(
        server.url + f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/hello.txt",
        data=b"hello s3",
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    s3 = boto3.client("s3", endpoint_url=os.environ["BAKEHOUSE_S3_ENDPOINT_URL"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == [f"root/{experiment_id}/{run_id}/artifacts/hello.txt"]


@pytest.mark.s3
def test_s3_bucket_is_fresh_and_usable(s3_bucket: str, s3_endpoint: str) -> None:
    import boto3

    assert os.environ["AWS_ACCESS_KEY_ID"] and os.environ["BAKEHOUSE_S3_ENDPOINT_URL"] == s3_endpoint
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    s3.put_object(Bucket=s3_bucket, Key="a/b.txt", Body=b"data")
    assert s3.get_object(Bucket=s3_bucket, Key="a/b.txt")["Body"].read() == b"data"
