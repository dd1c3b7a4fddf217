"""One artifact-repository suite run against every backend: local disk, S3 (moto's server over real HTTP),
Google Cloud Storage (fake-gcs-server), Azure Blob Storage (Azurite, through both ``wasbs://`` and
``abfss://``) and the HTTP artifact proxy (a tiny real Starlette server implementing the proxy API over a
directory, built from the same primitives the Bakehouse server uses). The emulators are reached the way their
client libraries reach the real clouds (STORAGE_EMULATOR_HOST, AZURE_STORAGE_CONNECTION_STRING).

Each backend comes with an "outside" snapshot: everything the repository must never touch. The traversal
tests take it before and after every hostile call and require it unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bakehouse.errors import BakehouseError, InvalidParameterError, NotFoundError
from bakehouse.store.artifacts import get_artifact_repository
from bakehouse.store.artifacts.base import ArtifactRepository
from bakehouse.store.artifacts.local import LocalArtifactRepository

pytestmark = pytest.mark.timeout(120)

BIG_SIZE = 50 * 1024 * 1024
#: the cloud object stores run with their part/block/range sizes lowered to 1 MiB (``_small_cloud_parts``), so
#: a 7 MiB file crosses every parallel threshold several times; bench/bench_cloud_artifacts.py moves 1 GB
CLOUD_BIG_SIZE = 7 * 1024 * 1024
CLOUD_BACKENDS = ("gcs", "azure", "azure-abfss")
MIB = 1024 * 1024
#: listings of the cloud stores come in pages of this many objects here (1,000/5,000 by default), so a few
#: hundred objects cross many pages; bench/bench_cloud_artifacts.py lists 10,000 at the services' page sizes
LIST_PAGE_SIZE = 40
PROXY_API = "/api/2.0/mlflow-artifacts/artifacts"


# ---------------------------------------------------------------------------------------- proxy app


def _sync_chunks(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """Pull an async request body from a worker thread, one chunk at a time (bounded memory)."""
    iterator = stream.__aiter__()
    while True:
        try:
            yield anyio.from_thread.run(iterator.__anext__)
        except StopAsyncIteration:
            return


def create_proxy_app(root: Path) -> Starlette:
    """The artifact proxy API over ``root``, the way a server should wire the repository primitives."""
    repo = LocalArtifactRepository(str(root))

    def error(exc: BakehouseError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.http_status)

    async def list_artifacts(request: Request) -> Response:
        try:
            path = request.query_params.get("path", "")
            infos = await anyio.to_thread.run_sync(repo.list_dir, path)
        except BakehouseError as exc:
            return error(exc)
        if not infos:
            return JSONResponse({})
        files = []
        for info in infos:
            entry: dict[str, Any] = {"path": info.path.rsplit("/", 1)[-1], "is_dir": info.is_dir}
            if not info.is_dir:
                entry["file_size"] = info.file_size
            files.append(entry)
        return JSONResponse({"files": files})

    async def artifact(request: Request) -> Response:
        path = request.path_params["path"]
        try:
            if request.method == "GET":
                stream = await anyio.to_thread.run_sync(repo.open_read, path)
                headers = {"Content-Length": str(stream.size)} if stream.size is not None else {}
                return StreamingResponse(stream, media_type="application/octet-stream", headers=headers)
            if request.method == "PUT":
                await anyio.to_thread.run_sync(repo.write_stream, path, _sync_chunks(request.stream()))
                return JSONResponse({})
            await anyio.to_thread.run_sync(repo.delete, path)
            return JSONResponse({})
        except BakehouseError as exc:
            return error(exc)

    return Starlette(
        routes=[
            Route(PROXY_API, list_artifacts, methods=["GET"]),
            Route(PROXY_API + "/{path:path}", artifact, methods=["GET", "PUT", "DELETE"]),
        ]
    )


class ServerThread:
    """uvicorn on 127.0.0.1 with an OS-chosen port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test HTTP server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# ---------------------------------------------------------------------------------------- backends


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for this test: the suite-wide conftest restores AWS_* variables after every test."""
    for key, default in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(key, os.environ.get(key) or default)


@pytest.fixture(scope="session")
def artifact_bucket(s3_endpoint: str) -> str:
    """One bucket for this module; every test writes under its own random prefix."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "testing",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing",
    )
    name = f"bh-artifacts-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def gcs_artifact_bucket(gcs_emulator: str) -> str:
    """One bucket for this module on the GCS emulator; every test writes under its own random prefix."""
    from google.cloud import storage

    name = f"bh-artifacts-{uuid.uuid4().hex[:12]}"
    storage.Client().create_bucket(name)
    return name


@pytest.fixture(scope="session")
def azure_artifact_container(azurite: str) -> str:
    """One container for this module on Azurite; every test writes under its own random prefix."""
    from azure.storage.blob import BlobServiceClient

    name = f"bh-artifacts-{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(azurite).create_container(name)
    return name


@pytest.fixture(scope="session")
def proxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    base = tmp_path_factory.mktemp("proxy")
    root = base / "server-root"
    root.mkdir()
    (base / "secret-outside.txt").write_text("outside the proxy root")
    with ServerThread(create_proxy_app(root)) as url:
        yield url, root


def _tree_snapshot(top: Path, exclude: Path | None = None) -> dict[str, bytes]:
    snapshot = {}
    for path in sorted(top.rglob("*")):
        if exclude is not None and (path == exclude or path.is_relative_to(exclude)):
            continue
        if path.is_symlink():
            snapshot[str(path)] = b"->" + os.readlink(path).encode()
        elif path.is_file():
            info = path.stat()
            small = info.st_size <= 1 << 20
            snapshot[str(path)] = (
                path.read_bytes() if small else f"{info.st_size}:{info.st_mtime_ns}".encode()
            )
        else:
            snapshot[str(path)] = b"<dir>"
    return snapshot


@dataclass
class Backend:
    name: str
    repo: ArtifactRepository
    #: everything outside the repository root, as comparable data
    outside: Callable[[], Any]
    #: the local directory behind the repository, when there is one (local, proxy)
    local_root: Path | None
    #: a directory outside the repository root covered by ``outside`` (where symlinks may point)
    outside_dir: Path | None
    #: cloud stores: how many parts (composed GCS sources, committed Azure blocks) an artifact is stored as
    stored_parts: Callable[[str], int] | None = None


@contextlib.contextmanager
def _small_cloud_parts(name: str) -> Iterator[None]:
    """Part, block and range sizes of the GCS/Azure repositories lowered to 1 MiB or less, so that a file of
    a few MiB takes every parallel path (composite uploads, block uploads, ranged downloads) that a large one
    takes at the real sizes."""
    with pytest.MonkeyPatch.context() as patch:
        if name == "gcs":
            from bakehouse.store.artifacts import gcs

            patch.setattr(gcs, "MIN_PART_SIZE", MIB)
            patch.setattr(gcs, "PARALLEL_DOWNLOAD_THRESHOLD", 2 * MIB)
            patch.setattr(gcs, "STREAM_PART_SIZE", MIB)  # a multiple of 256 KiB, as resumable uploads need
            patch.setattr(gcs, "READ_BUFFER_SIZE", 512 * 1024)
            patch.setattr(gcs, "LIST_PAGE_SIZE", LIST_PAGE_SIZE)
            patch.setenv("BAKEHOUSE_GCS_PARALLEL_UPLOAD_THRESHOLD", str(2 * MIB))
            patch.setenv("BAKEHOUSE_GCS_DOWNLOAD_CHUNK_SIZE", str(MIB))
            yield
            return
        from bakehouse.store.artifacts import azure

        patch.setattr(azure, "SINGLE_PUT_SIZE", 2 * MIB)
        patch.setattr(azure, "BLOCK_SIZE", MIB)
        patch.setattr(azure, "SINGLE_GET_SIZE", MIB)
        patch.setattr(azure, "CHUNK_GET_SIZE", MIB)
        patch.setattr(azure, "STREAM_BLOCK_SIZE", MIB)
        patch.setattr(azure, "STREAM_RANGE_SIZE", 256 * 1024)
        patch.setattr(azure, "LIST_PAGE_SIZE", LIST_PAGE_SIZE)
        azure.reset_clients()  # the sizes are options of the cached service client
        try:
            yield
        finally:
            azure.reset_clients()


BACKENDS = ["local", "s3", "proxy", "gcs", "azure", "azure-abfss"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    name = request.param
    if name == "local":
        world = tmp_path / "world"
        root = world / "artifacts"
        world.mkdir()
        (world / "secret-outside.txt").write_text("outside the local root")
        repo = get_artifact_repository(str(root))
        yield Backend(name, repo, lambda: _tree_snapshot(world, exclude=root), root, world)
    elif name == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("artifact_bucket")
        request.getfixturevalue("s3_credentials")
        prefix = f"{uuid.uuid4().hex}/artifacts"
        repo = get_artifact_repository(f"s3://{bucket}/{prefix}", endpoint_url=endpoint)

        def outside() -> list[str]:
            keys = [
                obj["Key"]
                for page in repo.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for obj in page.get("Contents", [])
            ]
            return sorted(key for key in keys if not key.startswith(prefix + "/"))

        yield Backend(name, repo, outside, None, None)
    elif name == "gcs":
        request.getfixturevalue("gcs_emulator")
        bucket = request.getfixturevalue("gcs_artifact_bucket")
        prefix = f"{uuid.uuid4().hex}/artifacts"
        from google.cloud import storage

        storage_client = storage.Client()  # the emulator, through STORAGE_EMULATOR_HOST

        def outside_gcs() -> list[str]:
            names = [blob.name for blob in storage_client.list_blobs(bucket)]
            return sorted(key for key in names if not key.startswith(prefix + "/"))

        # fake-gcs-server does not report a composed object's componentCount: the big-file test reads the
        # repository's own log line for the number of parts instead
        with _small_cloud_parts(name):
            repo = get_artifact_repository(f"gs://{bucket}/{prefix}")
            yield Backend(name, repo, outside_gcs, None, None)
    elif name in ("azure", "azure-abfss"):
        request.getfixturevalue("azurite")
        container = request.getfixturevalue("azure_artifact_container")
        prefix = f"{uuid.uuid4().hex}/artifacts"
        if name == "azure":
            uri = f"wasbs://{container}@devstoreaccount1.blob.core.windows.net/{prefix}"
        else:
            uri = f"abfss://{container}@devstoreaccount1.dfs.core.windows.net/{prefix}"
        from azure.storage.blob import BlobServiceClient

        container_client = BlobServiceClient.from_connection_string(
            request.getfixturevalue("azurite")
        ).get_container_client(container)

        def outside_azure() -> list[str]:
            names = [b.name for b in container_client.list_blobs()]
            return sorted(key for key in names if not key.startswith(prefix + "/"))

        def committed_blocks(path: str) -> int:
            committed, _ = container_client.get_blob_client(f"{prefix}/{path}").get_block_list("committed")
            return len(committed) or 1  # a blob put in one request has no block list

        with _small_cloud_parts(name):
            repo = get_artifact_repository(uri)
            yield Backend(name, repo, outside_azure, None, None, committed_blocks)
    else:
        url, server_root = request.getfixturevalue("proxy_server")
        sub = uuid.uuid4().hex
        repo = get_artifact_repository(f"mlflow-artifacts:/{sub}", tracking_uri=url)
        try:
            yield Backend(
                name,
                repo,
                lambda: _tree_snapshot(server_root.parent, exclude=server_root / sub),
                server_root / sub,
                server_root.parent,
            )
        finally:
            repo.close()


# ---------------------------------------------------------------------------------------- helpers


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fileobj:
        while chunk := fileobj.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(repo: ArtifactRepository, path: str | None = None) -> list[tuple[str, bool, int | None]]:
    return [(info.path, info.is_dir, info.file_size) for info in repo.list_artifacts(path)]


@pytest.fixture(scope="session")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], tuple[Path, str]]:
    """``big_file(size)``: a file of ``size`` bytes made of distinct MiB blocks, and its SHA-256 (made once)."""
    made: dict[int, tuple[Path, str]] = {}

    def big_file(size: int) -> tuple[Path, str]:
        if size not in made:
            path = tmp_path_factory.mktemp("big") / "big.bin"
            block = os.urandom(1 << 20)
            with open(path, "wb") as out:
                out.writelines(block[index:] + block[:index] for index in range(size >> 20))
            made[size] = (path, _sha256_file(path))
        return made[size]

    return big_file


# ---------------------------------------------------------------------------------------- behaviour


def test_log_artifact_and_list_with_mlflow_semantics(backend: Backend, tmp_path: Path) -> None:
    repo = backend.repo
    repo.log_artifact(_write(tmp_path / "src" / "a.txt", "alpha"))
    repo.log_artifact(_write(tmp_path / "src" / "b.json", '{"k": 1}'), "sub/dir")

    assert _listing(repo) == [("a.txt", False, 5), ("sub", True, None)]
    assert _listing(repo, "sub") == [("sub/dir", True, None)]
    assert _listing(repo, "sub/dir") == [("sub/dir/b.json", False, 8)]
    assert _listing(repo, "sub/dir/") == [("sub/dir/b.json", False, 8)]
    assert repo.list_artifacts("a.txt") == []
    assert repo.list_artifacts("sub/dir/b.json") == []
    assert repo.list_artifacts("missing") == []
    assert repo.list_artifacts("missing/deeper") == []


def test_log_artifacts_tree_and_download_directory(backend: Backend, tmp_path: Path) -> None:
    repo = backend.repo
    tree = {
        "MLmodel": "flavors: {}\n",
        "model.pkl": bytes(range(256)) * 10,
        "code/pkg/__init__.py": "",
        "code/pkg/mod.py": "x = 1\n",
        "data/deep/er/still/file.csv": "a,b\n1,2\n",
    }
    for rel, data in tree.items():
        _write(tmp_path / "tree" / rel, data)
    repo.log_artifacts(tmp_path / "tree", "model")
    repo.log_artifacts(tmp_path / "tree")  # at the root too

    assert _listing(repo, "model") == [
        ("model/MLmodel", False, 12),
        ("model/code", True, None),
        ("model/data", True, None),
        ("model/model.pkl", False, 2560),
    ]
    out = Path(repo.download_artifacts("model", tmp_path / "dl"))
    assert out == (tmp_path / "dl" / "model").resolve()
    downloaded = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    expected = {rel: data.encode() if isinstance(data, str) else data for rel, data in tree.items()}
    assert downloaded == expected

    whole = Path(repo.download_artifacts(None, tmp_path / "all"))
    assert whole == (tmp_path / "all").resolve()
    assert sorted(p.relative_to(whole).as_posix() for p in whole.rglob("*") if p.is_file()) == sorted(
        list(tree) + [f"model/{rel}" for rel in tree]
    )
    assert not [p for p in whole.rglob("*") if p.name.startswith(".bakehouse-tmp-")]

    single = repo.download_artifacts("model/code/pkg/mod.py")  # into a fresh temporary directory
    assert single.endswith(os.path.join("model", "code", "pkg", "mod.py"))
    assert Path(single).read_text() == "x = 1\n"


def test_download_missing_artifact_raises_not_found(backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        backend.repo.download_artifacts("nope.txt", tmp_path / "dl")
    with pytest.raises(NotFoundError):
        backend.repo.open_read("nope/deeper.txt")
    assert not [p for p in (tmp_path / "dl").rglob("*")]


def test_big_file_round_trip_is_byte_exact_and_streamed(
    backend: Backend,
    big_files: Callable[[int], tuple[Path, str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    size = CLOUD_BIG_SIZE if backend.name in CLOUD_BACKENDS else BIG_SIZE
    path, digest = big_files(size)
    repo = backend.repo
    with caplog.at_level(logging.DEBUG, logger="bakehouse.store.artifacts.gcs"):
        repo.log_artifact(path, "big")
    assert _listing(repo, "big") == [("big/big.bin", False, size)]
    # went up as parallel 1 MiB parts: committed Azure blocks, composed GCS parts
    if backend.stored_parts is not None:
        assert backend.stored_parts("big/big.bin") == size // MIB
    if backend.name == "gcs":
        assert f"as {size // MIB} parallel parts" in caplog.text
    local = repo.download_artifacts("big/big.bin", tmp_path / "dl")
    assert os.path.getsize(local) == size
    assert _sha256_file(local) == digest

    # the server-side pair: stream in from a generator, stream out chunk by chunk
    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as fileobj:
            while chunk := fileobj.read(3 * 1024 * 1024 + 7):  # odd-sized chunks on purpose
                yield chunk

    assert repo.write_stream("streamed/copy.bin", chunks()) == size
    hasher = hashlib.sha256()
    largest = 0
    with repo.open_read("streamed/copy.bin") as stream:
        assert stream.size == size
        for chunk in stream:
            largest = max(largest, len(chunk))
            hasher.update(chunk)
    assert hasher.hexdigest() == digest
    # never the whole file in one piece (the cloud stores read in ranges of at most 1 MiB here)
    assert largest <= (MIB if backend.name in CLOUD_BACKENDS else 16 * MIB)
    repo.delete_artifacts("big")
    repo.delete_artifacts("streamed")
    assert repo.list_artifacts() == []


def test_streams_use_bounded_memory(backend: Backend) -> None:
    """A proxied upload/download of 64 MiB never holds more than a few chunks in memory (the cloud stores,
    whose parts are 1 MiB here, move 16 MiB under a proportionally lower bound)."""
    if backend.name == "s3":
        pytest.skip(
            "moto keeps objects in this process's memory; see test_s3_stream_uploads_parts_while_reading"
        )
    repo = backend.repo
    block = os.urandom(1 << 20)
    blocks, bound = (16, 6 * MIB) if backend.name in CLOUD_BACKENDS else (64, 12 * MIB)
    size = blocks * MIB
    tracemalloc.start()
    try:
        assert repo.write_stream("mem/stream.bin", (block for _ in range(blocks))) == size
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = 0
        with repo.open_read("mem/stream.bin") as stream:
            for chunk in stream:
                total += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    repo.delete_artifacts("mem")
    assert total == size
    assert write_peak < bound, write_peak
    assert read_peak < bound, read_peak


def test_names_with_spaces_unicode_and_url_characters(backend: Backend, tmp_path: Path) -> None:
    repo = backend.repo
    names = ["my file #1 100%.txt", "a%20b.txt", "données été ☃.txt", "q?x=1&y=2.txt", "plus+sign;semi.txt"]
    for index, name in enumerate(names):
        repo.log_artifact(_write(tmp_path / "src" / name, f"content {index}"), "dir with space/ünï")
    listed = _listing(repo, "dir with space/ünï")
    assert listed == sorted(
        (f"dir with space/ünï/{name}", False, len(f"content {index}")) for index, name in enumerate(names)
    )
    out = Path(repo.download_artifacts("dir with space", tmp_path / "dl"))
    for index, name in enumerate(names):
        assert (out / "ünï" / name).read_text() == f"content {index}"
        assert repo.open_read(f"dir with space/ünï/{name}").read_all() == f"content {index}".encode()


def test_overwrite_replaces_content(backend: Backend, tmp_path: Path) -> None:
    repo = backend.repo
    repo.log_artifact(_write(tmp_path / "v1" / "f.txt", "first version, longer"), "d")
    repo.log_artifact(_write(tmp_path / "v2" / "f.txt", "second"), "d")
    assert _listing(repo, "d") == [("d/f.txt", False, 6)]
    assert Path(repo.download_artifacts("d/f.txt", tmp_path / "dl")).read_text() == "second"
    repo.write_stream("d/f.txt", [b"th", b"ird"])
    assert repo.open_read("d/f.txt").read_all() == b"third"


def test_delete_file_tree_and_missing(backend: Backend, tmp_path: Path) -> None:
    repo = backend.repo
    for rel in ("keep.txt", "gone.txt", "tree/a.txt", "tree/sub/b.txt", "treehouse.txt"):
        repo.log_artifact(_write(tmp_path / "src" / rel, rel), rel.rpartition("/")[0] or None)
    repo.delete_artifacts("gone.txt")
    repo.delete_artifacts("tree")
    repo.delete_artifacts("does/not/exist")
    assert _listing(repo) == [("keep.txt", False, 8), ("treehouse.txt", False, 13)]
    with pytest.raises(NotFoundError):
        repo.open_read("tree/sub/b.txt")


def test_listing_crosses_many_pages(backend: Backend, tmp_path: Path) -> None:
    """Listings page through the store (pages of LIST_PAGE_SIZE on GCS and Azure here): nothing is lost or
    listed twice, directories show once, and deleting the directory removes every object."""
    repo = backend.repo
    source = tmp_path / "many"
    source.mkdir()
    names = [f"f{index:05d}.txt" for index in range(250)]
    for name in names:
        (source / name).write_bytes(name[1:6].encode())
    _write(source / "sub" / "deep.txt", "deep")
    _write(source / "zz" / "last.txt", "last")  # a directory after every page of files
    repo.log_artifacts(source, "many")

    listed = _listing(repo, "many")
    expected = [(f"many/{name}", False, 5) for name in names]
    assert listed == [*expected, ("many/sub", True, None), ("many/zz", True, None)]
    assert _listing(repo) == [("many", True, None)]
    downloaded = Path(repo.download_artifacts("many", tmp_path / "dl"))  # the recursive walk pages too
    assert len(list(downloaded.rglob("*.txt"))) == len(names) + 2
    repo.delete_artifacts("many")
    assert repo.list_artifacts() == []
    assert repo.list_artifacts("many") == []


def test_streaming_primitives_small(backend: Backend) -> None:
    repo = backend.repo
    assert repo.write_stream("s/empty.bin", []) == 0
    assert repo.write_stream("s/parts.bin", (bytes([i]) * 1000 for i in range(10))) == 10000
    assert repo.open_read("s/empty.bin").read_all() == b""
    assert repo.open_read("s/parts.bin").read_all() == b"".join(bytes([i]) * 1000 for i in range(10))
    assert _listing(repo, "s") == [("s/empty.bin", False, 0), ("s/parts.bin", False, 10000)]


def test_progress_callback_reports_every_byte(backend: Backend, tmp_path: Path) -> None:
    repo = backend.repo
    seen: dict[str, list[int | None]] = {}
    lock = threading.Lock()

    def progress(path: str, advance: int, total: int | None) -> None:
        with lock:
            entry = seen.setdefault(path, [0, total])
            entry[0] += advance

    sizes = {"p/one.bin": 3000, "p/two.bin": 1_500_000, "p/sub/three.bin": 10}
    for rel, size in sizes.items():
        _write(tmp_path / "src" / rel, os.urandom(size))
    repo.log_artifacts(tmp_path / "src" / "p", "p", progress=progress)
    assert {path: tuple(v) for path, v in seen.items()} == {
        path: (size, size) for path, size in sizes.items()
    }
    seen.clear()
    repo.download_artifacts("p", tmp_path / "dl", progress=progress)
    assert {path: tuple(v) for path, v in seen.items()} == {
        path: (size, size) for path, size in sizes.items()
    }


# ---------------------------------------------------------------------------------------- traversal

HOSTILE_PATHS = [
    "..",
    "../escaped.txt",
    "a/../../escaped.txt",
    "%2e%2e/escaped.txt",
    "%2E%2E%2Fescaped.txt",
    "a/%2e%2e/%2e%2e/escaped.txt",
    "/etc/passwd",
    "%2fetc/passwd",
    "a\\..\\..\\escaped.txt",
    "a%5c..%5cescaped.txt",
    "a\x00b.txt",
    "a%00b.txt",
    "C:/windows/escaped.txt",
    "a//b.txt",
]


@pytest.mark.parametrize("hostile", HOSTILE_PATHS)
def test_hostile_paths_are_refused_everywhere(backend: Backend, hostile: str, tmp_path: Path) -> None:
    repo = backend.repo
    local = _write(tmp_path / "payload" / "escaped.txt", "payload")
    repo.log_artifact(_write(tmp_path / "src" / "inside.txt", "inside"))
    before = backend.outside()
    operations: list[Callable[[], object]] = [
        lambda: repo.upload_file(local, hostile),
        lambda: repo.log_artifact(local, hostile),
        lambda: repo.log_artifacts(tmp_path / "payload", hostile),
        lambda: repo.write_stream(hostile, [b"payload"]),
        lambda: repo.download_artifacts(hostile, tmp_path / "dl"),
        lambda: repo.download_file(hostile, tmp_path / "dl-file"),
        lambda: repo.list_artifacts(hostile),
        lambda: repo.open_read(hostile),
        lambda: repo.delete_artifacts(hostile),
    ]
    for operation in operations:
        with pytest.raises(InvalidParameterError, match="Invalid artifact path"):
            operation()
    assert backend.outside() == before
    assert _listing(repo) == [("inside.txt", False, 6)]
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").rglob("*"))
    assert not (tmp_path / "dl-file").exists()


def test_symlink_out_of_the_root_is_refused(backend: Backend, tmp_path: Path) -> None:
    if backend.local_root is None or backend.outside_dir is None:
        pytest.skip("object stores have no symlinks")
    repo = backend.repo
    repo.log_artifact(_write(tmp_path / "src" / "inside.txt", "inside"))
    outside_dir = backend.outside_dir / f"outside-{uuid.uuid4().hex[:8]}"
    _write(outside_dir / "secret.txt", "top secret")
    (backend.local_root / "link").symlink_to(outside_dir, target_is_directory=True)
    (backend.local_root / "filelink.txt").symlink_to(outside_dir / "secret.txt")
    try:
        before = backend.outside()
        payload = _write(tmp_path / "payload.txt", "payload")
        for operation in [
            lambda: repo.download_artifacts("link/secret.txt", tmp_path / "dl"),
            lambda: repo.download_artifacts("filelink.txt", tmp_path / "dl"),
            lambda: repo.download_artifacts("link", tmp_path / "dl"),
            lambda: repo.open_read("link/secret.txt"),
            lambda: repo.open_read("filelink.txt"),
            lambda: repo.list_artifacts("link"),
            lambda: repo.upload_file(payload, "link/new.txt"),
            lambda: repo.write_stream("link/secret.txt", [b"overwritten"]),
            lambda: repo.delete_artifacts("link/secret.txt"),
        ]:
            with pytest.raises(InvalidParameterError):
                operation()
        # links out of the root are invisible, and downloading everything skips them
        assert _listing(repo) == [("inside.txt", False, 6)]
        everything = Path(repo.download_artifacts("", tmp_path / "all"))
        assert sorted(p.name for p in everything.rglob("*")) == ["inside.txt"]
        # deleting the link removes the link, never what it points to
        repo.delete_artifacts("link")
        repo.delete_artifacts("filelink.txt")
        assert not os.path.lexists(backend.local_root / "link")
        assert (outside_dir / "secret.txt").read_text() == "top secret"
        assert backend.outside() == before
    finally:
        for link in ("link", "filelink.txt"):
            if os.path.lexists(backend.local_root / link):
                os.unlink(backend.local_root / link)


# ---------------------------------------------------------------------------------------- backend specifics


def test_proxy_server_rejects_traversal_sent_on_the_wire(proxy_server: tuple[str, Path]) -> None:
    """The server side of the same functions: raw requests that a hostile client could send."""
    url, root = proxy_server
    secret = root.parent / "secret-outside.txt"
    with httpx.Client(base_url=url) as client:
        for raw in [
            "%2e%2e/secret-outside.txt",
            "%252e%252e/secret-outside.txt",
            "a/%2E%2E/%2E%2E/secret-outside.txt",
            "..%5csecret-outside.txt",
            "%2Fetc%2Fpasswd",
        ]:
            response = client.get(f"{PROXY_API}/{raw}")
            assert response.status_code == 400, raw
            assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert b"outside the proxy root" not in response.content
            assert client.put(f"{PROXY_API}/{raw}", content=b"pwned").status_code == 400
        response = client.get(PROXY_API, params={"path": "../"})
        assert response.status_code == 400
        assert client.get(PROXY_API, params={"path": "%2e%2e"}).status_code == 400
    assert secret.read_text() == "outside the proxy root"


def test_s3_stream_uses_multipart_and_env_endpoint(
    s3_endpoint: str, artifact_bucket: str, s3_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.delenv("BAKEHOUSE_S3_ENDPOINT_URL", raising=False)
    repo = get_artifact_repository(f"s3://{artifact_bucket}/{uuid.uuid4().hex}")
    assert repo.endpoint_url == s3_endpoint
    data = os.urandom(20 * 1024 * 1024 + 5)
    assert repo.write_stream(
        "multi.bin", (data[i : i + 1_000_000] for i in range(0, len(data), 1_000_000))
    ) == len(data)
    head = repo.client.head_object(Bucket=artifact_bucket, Key=f"{repo.prefix}/multi.bin")
    assert head["ETag"].strip('"').endswith("-3")  # 8 MiB + 8 MiB + the rest
    assert repo.open_read("multi.bin").read_all() == data
    uploads = repo.client.list_multipart_uploads(Bucket=artifact_bucket).get("Uploads", [])
    assert uploads == []


def test_s3_failed_stream_leaves_nothing(
    s3_endpoint: str, artifact_bucket: str, s3_credentials: None
) -> None:
    repo = get_artifact_repository(f"s3://{artifact_bucket}/{uuid.uuid4().hex}", endpoint_url=s3_endpoint)

    def broken() -> Iterator[bytes]:
        yield os.urandom(9 * 1024 * 1024)  # one full part is uploaded
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        repo.write_stream("partial.bin", broken())
    assert repo.list_artifacts() == []
    uploads = repo.client.list_multipart_uploads(Bucket=artifact_bucket).get("Uploads", [])
    assert [u for u in uploads if u["Key"].startswith(repo.prefix)] == []


def test_failed_stream_keeps_previous_version(backend: Backend) -> None:
    repo = backend.repo
    repo.write_stream("f.bin", [b"good"])

    def broken() -> Iterator[bytes]:
        yield b"bad" * 1000
        raise OSError("client went away")

    with pytest.raises((OSError, BakehouseError)):
        repo.write_stream("f.bin", broken())
    assert repo.open_read("f.bin").read_all() == b"good"
    assert _listing(repo) == [("f.bin", False, 4)]


def test_s3_missing_bucket_is_not_found(s3_endpoint: str, s3_credentials: None) -> None:
    repo = get_artifact_repository("s3://no-such-bucket-here/x", endpoint_url=s3_endpoint)
    with pytest.raises(NotFoundError, match="bucket does not exist"):
        repo.list_artifacts()
    with pytest.raises(NotFoundError):
        repo.write_stream("f.txt", [b"x"])


def test_s3_stream_uploads_parts_while_reading(
    s3_endpoint: str, artifact_bucket: str, s3_credentials: None
) -> None:
    """Parts leave while the stream is still being read: at most one part is ever buffered."""
    repo = get_artifact_repository(f"s3://{artifact_bucket}/{uuid.uuid4().hex}", endpoint_url=s3_endpoint)
    client = repo.client
    key = f"{repo.prefix}/parts.bin"
    block = os.urandom(1 << 20)
    uploaded_parts_seen: list[int] = []

    def chunks() -> Iterator[bytes]:
        for index in range(30):
            if index in (20, 29):
                uploads = [
                    u
                    for u in client.list_multipart_uploads(Bucket=artifact_bucket).get("Uploads", [])
                    if u["Key"] == key
                ]
                parts = client.list_parts(
                    Bucket=artifact_bucket, Key=key, UploadId=uploads[0]["UploadId"]
                ).get("Parts", [])
                uploaded_parts_seen.append(len(parts))
            yield block

    assert repo.write_stream("parts.bin", chunks()) == 30 << 20
    assert uploaded_parts_seen == [2, 3]  # after 20 MiB read: 2 parts of 8 MiB sent; after 29 MiB: 3
    assert repo.open_read("parts.bin").read_all() == block * 30


@pytest.mark.slow  # importing mlflow costs a few seconds
def test_official_mlflow_client_against_the_reference_proxy(
    proxy_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference proxy above (the primitives as the server wires them) speaks MLflow's wire format."""
    url, root = proxy_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    from mlflow.store.artifact.artifact_repository_registry import (
        get_artifact_repository as mlflow_repository,
    )

    sub = uuid.uuid4().hex
    _write(tmp_path / "src" / "a b.txt", "hello")
    _write(tmp_path / "src" / "sub" / "w.bin", bytes(range(256)) * 4096)
    official = mlflow_repository(f"mlflow-artifacts:/{sub}")
    official.log_artifacts(str(tmp_path / "src"), "model")
    listed = [(f.path, f.is_dir, f.file_size) for f in official.list_artifacts("model")]
    assert listed == [("model/a b.txt", False, 5), ("model/sub", True, None)]
    assert official.list_artifacts("model/a b.txt") == []
    ours = get_artifact_repository(f"mlflow-artifacts:/{sub}", tracking_uri=url)
    assert ours.open_read("model/sub/w.bin").read_all() == bytes(range(256)) * 4096
    ours.write_stream("model/ours.txt", [b"from bakehouse"])
    (tmp_path / "dl").mkdir()
    out = Path(official.download_artifacts("model", str(tmp_path / "dl")))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a b.txt",
        "ours.txt",
        "sub/w.bin",
    ]
    assert (out / "ours.txt").read_text() == "from bakehouse"
    official.delete_artifacts("model/sub")
    assert [i.path for i in ours.list_artifacts("model")] == ["model/a b.txt", "model/ours.txt"]
    assert not (root / sub / "model" / "sub").exists()
    ours.close()
