"""Artifacts in Google Cloud Storage (``gs://bucket/prefix``), through the official google-cloud-storage client.

Credentials are Google's Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth
application-default login``, the metadata server of GCE/GKE/Cloud Run); without any, the client is anonymous,
as MLflow's is, so public buckets stay readable. ``STORAGE_EMULATOR_HOST`` points the library at an emulator
(fake-gcs-server in the tests): the code below never knows the difference.

Large files move in parts, in parallel: an upload at or above ``GCS_PARALLEL_UPLOAD_THRESHOLD`` sends each
part as a hidden temporary object and composes them into the destination in one request (what ``gcloud
storage`` calls a parallel composite upload), then deletes the parts; a large download fetches byte ranges
of one pinned generation into their places in the file and checks the whole file's CRC32C. Streams from the
server's proxy go up as one resumable upload, a part at a time, and become visible only when complete.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bakehouse import settings
from bakehouse.entities import FileInfo
from bakehouse.errors import (
    BakehouseError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    TemporarilyUnavailableError,
    UnauthenticatedError,
)
from bakehouse.extras import require
from bakehouse.store.artifacts.base import TEMP_PREFIX, ArtifactRepository, ChunkStream, ProgressCallback
from bakehouse.store.artifacts.object_keys import (
    FileWindow,
    KeyLayout,
    OffsetWriter,
    TransferMeter,
    TranslatedErrors,
    is_hidden_key,
    part_ranges,
)

logger = logging.getLogger(__name__)

MAX_CONCURRENCY = 8
#: GCS composes at most 32 source objects in one request: parts grow beyond 32 MiB to stay within that.
MAX_COMPOSE_SOURCES = 32
MIN_PART_SIZE = 32 * 1024 * 1024
#: downloads of at least this size are fetched as parallel byte ranges
PARALLEL_DOWNLOAD_THRESHOLD = 64 * 1024 * 1024
#: what a proxied stream buffers before sending it as one chunk of a resumable upload (a 256 KiB multiple)
STREAM_PART_SIZE = 4 * 1024 * 1024
#: ranged reads of a streamed download (the proxy hands out 1 MiB chunks from this buffer); the library holds
#: a few copies of a range while it arrives, so this stays small to keep a proxied download's memory bounded
READ_BUFFER_SIZE = 2 * 1024 * 1024
#: objects per page of a listing (None: the service's own page, 1,000 objects on GCS)
LIST_PAGE_SIZE: int | None = None
#: the IAM permission each operation needs, named in permission errors
PERMISSIONS = {
    "list": "storage.objects.list",
    "read": "storage.objects.get",
    "download": "storage.objects.get",
    "upload": "storage.objects.create (and storage.objects.delete to replace an existing object)",
    "write": "storage.objects.create (and storage.objects.delete to replace an existing object)",
    "compose": "storage.objects.create and storage.objects.delete",
    "delete": "storage.objects.delete",
}
CREDENTIAL_HELP = (
    "set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, run `gcloud auth "
    "application-default login`, or run where a service account is attached (GCE, GKE, Cloud Run)"
)

_clients: dict[str, tuple[Any, str]] = {}
_clients_lock = threading.Lock()


def _storage_module() -> Any:
    return require("google.cloud.storage", "gcs", "A gs:// artifact location", package="google-cloud-storage")


def _client() -> tuple[Any, str]:
    """One client per process and its credential source: Application Default Credentials, else anonymous."""
    with _clients_lock:
        cached = _clients.get("default")
        if cached is not None:
            return cached
        storage = _storage_module()
        from google.auth.exceptions import DefaultCredentialsError  # installed with google-cloud-storage

        try:
            client = storage.Client()
            credentials = type(getattr(client, "_credentials", None)).__name__
            source = (
                "anonymous" if credentials == "AnonymousCredentials" else "application default credentials"
            )
        except DefaultCredentialsError:
            client = storage.Client.create_anonymous_client()
            source = "none found, anonymous"
        _clients["default"] = (client, source)
        return client, source


class GcsArtifactRepository(TranslatedErrors, ArtifactRepository):
    """Artifacts below ``gs://<bucket>/<prefix>``."""

    max_workers = MAX_CONCURRENCY

    def __init__(self, artifact_uri: str) -> None:
        super().__init__(artifact_uri)
        parsed = urlparse(artifact_uri)
        if parsed.scheme != "gs" or not parsed.netloc:
            raise InvalidParameterError(f"Not a GCS URI (expected gs://bucket/prefix): {artifact_uri!r}")
        self.bucket_name = parsed.netloc
        self.layout = KeyLayout(parsed.path.strip("/"))
        timeout = settings.artifact_transfer_timeout()
        self._timeout_kwargs: dict[str, Any] = {}
        if timeout is not None:
            self._timeout_kwargs["timeout"] = None if timeout < 0 else timeout
        self.upload_chunk_size = settings.gcs_upload_chunk_size()
        self.download_chunk_size = settings.gcs_download_chunk_size()
        self.parallel_upload_threshold = settings.gcs_parallel_upload_threshold()
        self._credential_source = ""

    @property
    def client(self) -> Any:
        client, self._credential_source = _client()
        return client

    @property
    def bucket(self) -> Any:
        return self.client.bucket(self.bucket_name)

    # ------------------------------------------------------------------ errors

    def _error(self, exc: Exception, operation: str, path: str) -> BakehouseError:
        """A Bakehouse error naming the bucket, and the permission or credential that is missing."""
        from google.api_core import exceptions as api  # installed with google-cloud-storage
        from google.auth import exceptions as auth

        where = f"gs://{self.bucket_name}/{self.layout.key(path)}"
        detail = getattr(exc, "message", None) or str(exc)
        if isinstance(exc, api.NotFound):
            if "bucket" in detail.lower():
                return NotFoundError(
                    f"GCS bucket {self.bucket_name!r} does not exist (while trying to {operation} {where})"
                )
            return NotFoundError(f"Artifact {path!r} does not exist in {self.artifact_uri}")
        if isinstance(exc, api.Forbidden):
            return PermissionDeniedError(
                f"Permission denied on GCS bucket {self.bucket_name!r} while trying to {operation} {where}: the "
                f"credentials ({self._credential_source}) need {PERMISSIONS.get(operation, 'access')}. {detail}"
            )
        if isinstance(exc, (api.Unauthorized, auth.GoogleAuthError)):
            return UnauthenticatedError(
                f"GCS refused the credentials ({self._credential_source}) for bucket {self.bucket_name!r} while "
                f"trying to {operation} {where}: {CREDENTIAL_HELP}. {detail}"
            )
        if isinstance(exc, api.GoogleAPICallError):
            return BakehouseError(
                f"GCS error on bucket {self.bucket_name!r} while trying to {operation} {where}: {detail}"
            )
        if isinstance(exc, OSError):  # requests' connection errors are OSErrors
            endpoint = getattr(getattr(self.client, "_connection", None), "API_BASE_URL", "GCS")
            return TemporarilyUnavailableError(
                f"Could not reach {endpoint} for bucket {self.bucket_name!r} while trying to {operation}: {exc}"
            )
        return BakehouseError(
            f"GCS error on bucket {self.bucket_name!r} while trying to {operation} {where}: {detail}"
        )

    def _get_blob(self, path: str, operation: str) -> Any:
        """The object's metadata (size, generation, CRC32C), or NotFoundError."""
        blob = self._call(
            operation, path, lambda: self.bucket.get_blob(self.layout.key(path), **self._timeout_kwargs)
        )
        if blob is None:
            raise NotFoundError(f"Artifact {path!r} does not exist in {self.artifact_uri}")
        return blob

    # ------------------------------------------------------------------ uploads

    def _upload_file(self, local_path: Path, dest: str, progress: ProgressCallback | None) -> None:
        size = local_path.stat().st_size
        meter = TransferMeter(dest, size, progress)
        if self.parallel_upload_threshold > 0 and size >= self.parallel_upload_threshold:
            self._upload_composite(local_path, dest, size, meter)
            return
        with open(local_path, "rb") as fileobj:
            window = FileWindow(fileobj.fileno(), 0, size, meter)
            blob = self.bucket.blob(self.layout.key(dest), chunk_size=self.upload_chunk_size)
            self._call(
                "upload", dest, lambda: blob.upload_from_file(window, size=size, **self._timeout_kwargs)
            )

    def _upload_composite(self, local_path: Path, dest: str, size: int, meter: TransferMeter) -> None:
        """Parts in parallel as hidden objects next to the destination, one compose, then the parts go."""
        part_size = max(MIN_PART_SIZE, -(-size // MAX_COMPOSE_SOURCES))
        part_size = -(-part_size // (256 * 1024)) * (256 * 1024)
        key = self.layout.key(dest)
        directory, _, name = key.rpartition("/")
        stem = f"{directory}/" if directory else ""
        token = uuid.uuid4().hex[:12]
        ranges = part_ranges(size, part_size)
        logger.debug("uploading %r to gs://%s as %d parallel parts", dest, self.bucket_name, len(ranges))
        part_keys = [f"{stem}{TEMP_PREFIX}{token}-{index:02d}-{name}"[:1024] for index in range(len(ranges))]
        bucket = self.bucket
        try:
            with open(local_path, "rb") as fileobj:
                jobs = [
                    partial(
                        self._upload_part, bucket, part_key, fileobj.fileno(), offset, length, meter, dest
                    )
                    for part_key, (offset, length) in zip(part_keys, ranges)
                ]
                self._run_parallel(jobs)
            destination = bucket.blob(key)
            sources = [bucket.blob(part_key) for part_key in part_keys]
            self._call("compose", dest, lambda: destination.compose(sources, **self._timeout_kwargs))
        finally:
            self._delete_keys(part_keys, dest, missing_ok=True)

    def _upload_part(
        self, bucket: Any, part_key: str, fd: int, offset: int, length: int, meter: TransferMeter, dest: str
    ) -> None:
        window = FileWindow(fd, offset, length, meter)
        blob = bucket.blob(part_key, chunk_size=self.upload_chunk_size)
        self._call("upload", dest, lambda: blob.upload_from_file(window, size=length, **self._timeout_kwargs))

    def _write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        """One resumable upload fed a part at a time; an interrupted stream is cancelled, never finalized."""
        blob = self.bucket.blob(self.layout.key(path), chunk_size=STREAM_PART_SIZE)
        writer = self._call("write", path, lambda: blob.open("wb", ignore_flush=True, **self._timeout_kwargs))
        total = 0
        try:
            for chunk in chunks:
                total += len(chunk)
                self._call("write", path, partial(writer.write, chunk))
            self._call("write", path, writer.close)
        except BaseException:
            try:
                writer.terminate()  # cancels the session; close() (also run by the finalizer) then does nothing
            except Exception:  # the original error matters more: log this one
                logger.warning("could not cancel the resumable upload of %r", path, exc_info=True)
            raise
        return total

    # ------------------------------------------------------------------ downloads

    def _download_file(self, src: str, local_path: Path, progress: ProgressCallback | None) -> None:
        blob = self._get_blob(src, "download")
        size = int(blob.size or 0)
        meter = TransferMeter(src, size, progress)
        if size >= PARALLEL_DOWNLOAD_THRESHOLD and not blob.content_encoding:
            self._download_ranges(blob, src, local_path, size, meter)
            return
        with open(local_path, "wb") as fileobj:
            writer = OffsetWriter(fileobj.fileno(), 0, meter)
            self._call("download", src, lambda: blob.download_to_file(writer, **self._timeout_kwargs))

    def _download_ranges(
        self, blob: Any, src: str, local_path: Path, size: int, meter: TransferMeter
    ) -> None:
        """Byte ranges of the generation listed above, in parallel, each written at its offset."""
        with open(local_path, "wb") as fileobj:
            fileobj.truncate(size)
            fd = fileobj.fileno()

            def fetch(offset: int, length: int) -> None:
                writer = OffsetWriter(fd, offset, meter)
                self._call(
                    "download",
                    src,
                    lambda: blob.download_to_file(
                        writer, start=offset, end=offset + length - 1, checksum=None, **self._timeout_kwargs
                    ),
                )

            jobs: list[Callable[[], None]] = [
                partial(fetch, offset, length)
                for offset, length in part_ranges(size, self.download_chunk_size)
            ]
            self._run_parallel(jobs)
        if blob.crc32c and _file_crc32c(local_path) != blob.crc32c:
            raise BakehouseError(
                f"Downloaded {src!r} from gs://{self.bucket_name} does not match its CRC32C checksum; try again"
            )

    def _open_read(self, path: str) -> ChunkStream:
        blob = self._get_blob(path, "read")
        reader = self._call(
            "read", path, lambda: blob.open("rb", chunk_size=READ_BUFFER_SIZE, **self._timeout_kwargs)
        )

        def chunks() -> Iterator[bytes]:
            while True:
                chunk = self._call("read", path, partial(reader.read, 1024 * 1024))
                if not chunk:
                    return
                yield chunk

        return ChunkStream(chunks(), reader.close, int(blob.size or 0))

    # ------------------------------------------------------------------ listings

    def _blobs(self, prefix: str, delimiter: str | None) -> Iterator[Any]:
        """Every page of a listing; with a delimiter, sub-"directories" come as the page's prefixes."""
        iterator = self._call(
            "list",
            prefix,
            lambda: self.client.list_blobs(
                self.bucket_name,
                prefix=prefix,
                delimiter=delimiter,
                page_size=LIST_PAGE_SIZE,
                **self._timeout_kwargs,
            ),
        )
        pages = iter(self._call("list", prefix, lambda: iterator.pages))
        while True:
            page = self._call("list", prefix, partial(next, pages, None))
            if page is None:
                return
            yield page

    def _list_dir(self, path: str) -> list[FileInfo]:
        prefix = self.layout.dir_prefix(path)
        infos: list[FileInfo] = []
        directories: set[str] = set()
        for page in self._blobs(prefix, "/"):
            # a prefix can come again on a later page (fake-gcs-server repeats them on every page)
            for directory in sorted(set(page.prefixes) - directories):
                directories.add(directory)
                if not is_hidden_key(directory):
                    infos.append(FileInfo(self.layout.relative(directory.rstrip("/")), True, None))
            for blob in page:
                if blob.name == prefix or is_hidden_key(blob.name):  # a "directory marker", a part in flight
                    continue
                infos.append(FileInfo(self.layout.relative(blob.name), False, int(blob.size or 0)))
        return infos

    def _walk(self, path: str) -> Iterator[FileInfo]:
        """One flat listing instead of one request per directory."""
        for page in self._blobs(self.layout.dir_prefix(path), None):
            for blob in page:
                if blob.name.endswith("/") or is_hidden_key(blob.name):
                    continue
                yield FileInfo(self.layout.relative(blob.name), False, int(blob.size or 0))

    # ------------------------------------------------------------------ delete

    def _delete(self, path: str) -> None:
        keys = [self.layout.key(path)] if path else []
        keys.extend(blob.name for page in self._blobs(self.layout.dir_prefix(path), None) for blob in page)
        self._delete_keys(keys, path, missing_ok=True)

    def _delete_keys(self, keys: list[str], path: str, *, missing_ok: bool) -> None:
        """One request per object, in parallel (the JSON API's batch endpoint is not on every server)."""
        if not keys:
            return
        from google.api_core.exceptions import NotFound  # installed with google-cloud-storage

        bucket = self.bucket

        def delete(key: str) -> None:
            try:
                bucket.delete_blob(key, **self._timeout_kwargs)
            except NotFound:
                if not missing_ok:
                    raise
            except Exception as exc:  # named with the bucket and the permission
                raise self._error(exc, "delete", path) from exc

        self._run_parallel([partial(delete, key) for key in keys])


def _file_crc32c(path: Path) -> str:
    """The file's CRC32C in GCS's encoding (base64 of the big-endian 32-bit value)."""
    import google_crc32c  # installed with google-cloud-storage

    checksum = google_crc32c.Checksum()
    with open(path, "rb") as fileobj:
        while block := fileobj.read(8 * 1024 * 1024):
            checksum.update(block)
    return base64.b64encode(checksum.digest()).decode("ascii")


def reset_clients() -> None:
    """Forget cached clients (tests that change credentials or the emulator address)."""
    with _clients_lock:
        _clients.clear()
