"""Scale-out: two `bakehouse server` processes (one with 2 workers) share one PostgreSQL and one S3 bucket.

16 concurrent clients log through both servers alternately; afterwards every metric point is present exactly
once, whichever server is asked, and artifacts uploaded through one server download byte-exact from the other.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bakehouse.entities import Metric, Param, RunTag
from bakehouse.store.tracking.rest import RestTrackingStore

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow, pytest.mark.timeout(300)]

CLIENTS = 16
BATCHES = 12
POINTS_PER_BATCH = 50
SINGLE_POINTS = 10


@pytest.fixture
def two_servers(bakehouse_server, postgres_uri, s3_bucket):
    destination = f"s3://{s3_bucket}/shared-artifacts"
    first = bakehouse_server(backend_store_uri=postgres_uri, artifacts_destination=destination)
    second = bakehouse_server(
        backend_store_uri=postgres_uri, artifacts_destination=destination, extra_args=["--workers", "2"]
    )
    return first, second, s3_bucket


def _client_work(
    index: int, stores: list[RestTrackingStore], experiment_id: str, tmp_dir: str
) -> tuple[str, str]:
    """Create a run on one server, then alternate servers for every call."""
    run = stores[index % 2].create_run(experiment_id, user_id=f"client{index}", run_name=f"c{index}")
    run_id = run.info.run_id
    calls = 0
    for batch in range(BATCHES):
        store = stores[(index + calls) % 2]
        calls += 1
        metrics = [
            Metric("loss", float(batch * POINTS_PER_BATCH + i), 1_000 + batch, batch * POINTS_PER_BATCH + i)
            for i in range(POINTS_PER_BATCH)
        ]
        store.log_batch(
            run_id, metrics=metrics, params=[Param(f"p{batch}", str(index))], tags=[RunTag(f"t{batch}", "x")]
        )
    for i in range(SINGLE_POINTS):
        stores[(index + calls) % 2].log_metric(run_id, Metric("acc", i / 10, 5_000 + i, i))
        calls += 1
    stores[(index + 1) % 2].update_run_info(run_id, "FINISHED", 9_999)
    return run_id, f"c{index}"


def test_two_servers_share_postgres_and_s3(two_servers, tmp_path) -> None:
    first, second, _bucket = two_servers
    stores = [RestTrackingStore.from_uri(first.url), RestTrackingStore.from_uri(second.url)]
    experiment_id = stores[0].create_experiment("scale-out")
    assert stores[1].get_experiment(experiment_id).name == "scale-out"

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(
            pool.map(lambda i: _client_work(i, stores, experiment_id, str(tmp_path)), range(CLIENTS))
        )

    expected_loss = list(range(BATCHES * POINTS_PER_BATCH))
    for run_id, name in results:
        for store in stores:
            history = store.get_metric_history(run_id, "loss")
            steps = [m.step for m in history]
            assert sorted(steps) == expected_loss, f"{name}: points missing or duplicated"
            assert all(m.value == float(m.step) for m in history)
            acc = store.get_metric_history(run_id, "acc")
            assert sorted(m.step for m in acc) == list(range(SINGLE_POINTS))
            run = store.get_run(run_id)
            assert run.info.status == "FINISHED"
            assert run.data.metrics["loss"] == float(expected_loss[-1])
            assert len(run.data.params) == BATCHES and len(run.data.tags) >= BATCHES
    for store in stores:
        runs = store.search_runs([experiment_id], max_results=100)
        assert sorted(r.info.run_name for r in runs) == sorted(name for _, name in results)
        assert len({r.info.run_id for r in runs}) == CLIENTS


def test_artifacts_cross_servers_through_one_bucket(two_servers, tmp_path) -> None:
    import boto3
    import httpx

    first, second, bucket = two_servers
    payloads = {f"dir/file-{i}.bin": os.urandom(200_000 + i) for i in range(8)}
    errors: list[BaseException] = []

    def upload(item: tuple[int, tuple[str, bytes]]) -> None:
        i, (path, data) = item
        url = (first if i % 2 else second).url
        try:
            r = httpx.put(
                f"{url}/api/2.0/mlflow-artifacts/artifacts/7/run/artifacts/{path}", content=data, timeout=60
            )
            assert r.status_code == 200, r.text
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(item,)) for item in enumerate(payloads.items())]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, (path, data) in enumerate(payloads.items()):
        other = (second if i % 2 else first).url
        body = httpx.get(
            f"{other}/api/2.0/mlflow-artifacts/artifacts/7/run/artifacts/{path}", timeout=60
        ).content
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    s3 = boto3.client("s3", endpoint_url=os.environ["BAKEHOUSE_S3_ENDPOINT_URL"], region_name="us-east-1")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted(f"shared-artifacts/7/run/artifacts/{p}" for p in payloads)
    listing = httpx.get(
        f"{first.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": "7/run/artifacts/dir"}
    ).json()
    assert sorted(f["path"] for f in listing["files"]) == sorted(p.split("/")[1] for p in payloads)
