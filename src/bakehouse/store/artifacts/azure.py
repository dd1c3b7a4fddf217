"""Artifacts in Azure Blob Storage, under MLflow's URI forms, through the official azure-storage-blob client.

``wasbs://<container>@<account>.blob.core.windows.net/<path>`` is a container of a storage account;
``abfss://<filesystem>@<account>.dfs.core.windows.net/<path>`` names a Data Lake Storage Gen2 filesystem,
which is a container too: both are reached through the Blob API (ADLS Gen2 accounts serve it on the same
data), so one repository serves both schemes. Sovereign clouds (``core.chinacloudapi.cn``,
``core.usgovcloudapi.net``) keep their suffix.

Credentials are read in MLflow's order: ``AZURE_STORAGE_CONNECTION_STRING`` (which also carries the endpoint:
that is how the Azurite emulator is reached), ``AZURE_STORAGE_ACCESS_KEY``, ``AZURE_STORAGE_SAS_TOKEN``, and
otherwise azure-identity's ``DefaultAzureCredential`` (service principal variables, workload or managed
identity, Azure CLI login).

Large files move as blocks in parallel (the SDK stages the blocks of an upload concurrently and commits the
list; downloads fetch ranges concurrently). A proxied stream stages one block at a time and commits the block
list at the end, so an interrupted stream leaves the previous version of the blob untouched.
"""

from __future__ import annotations

import base64
import logging
import re
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
from bakehouse.store.artifacts.base import ArtifactRepository, ChunkStream, ProgressCallback
from bakehouse.store.artifacts.object_keys import KeyLayout, TransferMeter, TranslatedErrors, is_hidden_key

logger = logging.getLogger(__name__)

MAX_CONCURRENCY = 8
#: files up to this size go up in one request; larger ones as blocks of BLOCK_SIZE, staged in parallel
SINGLE_PUT_SIZE = 16 * 1024 * 1024
BLOCK_SIZE = 8 * 1024 * 1024
#: blocks of a proxied stream: the SDK holds copies of a block while it is sent, so these stay small to keep
#: the server's memory bounded (50,000 blocks of 2 MiB still allow a 97 GiB stream)
STREAM_BLOCK_SIZE = 2 * 1024 * 1024
#: ranges of a proxied download: the SDK briefly holds ~10 copies of a range while reading it (measured with
#: tracemalloc), so ranges stay small to keep the server's memory per download bounded
STREAM_RANGE_SIZE = 512 * 1024
#: downloads: the first request fetches up to SINGLE_GET_SIZE, the rest comes in parallel CHUNK_GET_SIZE ranges
SINGLE_GET_SIZE = 16 * 1024 * 1024
CHUNK_GET_SIZE = 8 * 1024 * 1024
#: blobs per page of a listing (None: the service's own page, up to 5,000 blobs on Azure)
LIST_PAGE_SIZE: int | None = None
#: Azure's blob batch takes at most 256 sub-requests
DELETE_BATCH = 256

_URI = re.compile(
    r"(?P<container>[^@/]+)@(?P<account>[^./]+)\.(?P<service>blob|dfs)\.(?P<suffix>core\.[^/]+)"
)

#: the SAS permission letter and the RBAC data action each operation needs, named in permission errors
PERMISSIONS = {
    "list": ("l (list)", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"),
    "read": ("r (read)", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"),
    "download": ("r (read)", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"),
    "upload": ("w (write)", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"),
    "write": ("w (write)", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"),
    "delete": ("d (delete)", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"),
}
CREDENTIAL_HELP = (
    "set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCESS_KEY or AZURE_STORAGE_SAS_TOKEN, or provide an "
    "Azure identity (AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, a managed identity, `az login`)"
)

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def parse_azure_uri(uri: str) -> tuple[str, str, str, str]:
    """``(container, account, blob endpoint suffix, path)`` of a ``wasbs://`` or ``abfss://`` URI."""
    parsed = urlparse(uri)
    match = _URI.fullmatch(parsed.netloc)
    if parsed.scheme not in ("wasbs", "abfss") or match is None:
        raise InvalidParameterError(
            f"Not an Azure storage URI: {uri!r} (expected wasbs://<container>@<account>.blob.core.windows.net/"
            "<path> or abfss://<filesystem>@<account>.dfs.core.windows.net/<path>)"
        )
    return match["container"], match["account"], f"blob.{match['suffix']}", parsed.path.strip("/")


def _blob_module() -> Any:
    return require("azure.storage.blob", "azure", "An Azure storage artifact location", "azure-storage-blob")


def _service_client(account: str, suffix: str) -> tuple[Any, str]:
    """One client per account and credential source (creating one, and its credential, is not free)."""
    credentials = settings.AzureCredentialSettings.from_env()
    source = (
        "AZURE_STORAGE_CONNECTION_STRING"
        if credentials.connection_string
        else "AZURE_STORAGE_ACCESS_KEY"
        if credentials.access_key
        else "AZURE_STORAGE_SAS_TOKEN"
        if credentials.sas_token
        else "DefaultAzureCredential"
    )
    secret = credentials.connection_string or credentials.access_key or credentials.sas_token or ""
    cache_key = (f"{account}.{suffix}", f"{source}:{hash(secret)}")
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is not None:
            return client, source
        blob = _blob_module()
        options: dict[str, Any] = {
            "max_single_put_size": SINGLE_PUT_SIZE,
            "max_block_size": BLOCK_SIZE,
            "max_single_get_size": SINGLE_GET_SIZE,
            "max_chunk_get_size": CHUNK_GET_SIZE,
        }
        account_url = f"https://{account}.{suffix}"
        if credentials.connection_string:
            client = blob.BlobServiceClient.from_connection_string(credentials.connection_string, **options)
            named = getattr(client, "account_name", None)
            if named and named != account:
                raise InvalidParameterError(
                    f"AZURE_STORAGE_CONNECTION_STRING is for storage account {named!r}, but the artifact URI names "
                    f"account {account!r}: use a connection string of that account, or the account's URI"
                )
        elif credentials.access_key:
            client = blob.BlobServiceClient(account_url, credential=credentials.access_key, **options)
        elif credentials.sas_token:
            client = blob.BlobServiceClient(
                account_url, credential=credentials.sas_token.lstrip("?"), **options
            )
        else:
            identity = require(
                "azure.identity",
                "azure",
                "Azure storage without a key, SAS or connection string",
                "azure-identity",
            )
            client = blob.BlobServiceClient(
                account_url, credential=identity.DefaultAzureCredential(), **options
            )
        _clients[cache_key] = client
        return client, source


class AzureBlobArtifactRepository(TranslatedErrors, ArtifactRepository):
    """Artifacts below ``wasbs://<container>@<account>.blob.core.windows.net/<path>`` (or ``abfss://``)."""

    max_workers = MAX_CONCURRENCY

    def __init__(self, artifact_uri: str) -> None:
        super().__init__(artifact_uri)
        self.container, self.account, self.suffix, path = parse_azure_uri(artifact_uri)
        self.layout = KeyLayout(path)
        timeout = settings.artifact_transfer_timeout()
        self._timeout_kwargs: dict[str, Any] = {}
        if timeout is not None and timeout >= 0:
            self._timeout_kwargs["timeout"] = int(timeout)
        self._credential_source = ""

    @property
    def container_client(self) -> Any:
        service, self._credential_source = _service_client(self.account, self.suffix)
        return service.get_container_client(self.container)

    # ------------------------------------------------------------------ errors

    def _error(self, exc: Exception, operation: str, path: str) -> BakehouseError:
        """A Bakehouse error naming the container and account, and the permission or credential missing."""
        from azure.core import exceptions as azure  # installed with azure-storage-blob

        where = f"container {self.container!r} of storage account {self.account!r}"
        code = str(getattr(exc, "error_code", "") or "")
        detail = str(getattr(exc, "message", None) or exc).split("\n", 1)[0]
        if isinstance(exc, azure.ResourceNotFoundError) or code in ("ContainerNotFound", "BlobNotFound"):
            if code == "ContainerNotFound":
                return NotFoundError(f"Azure {where} does not exist (while trying to {operation} {path!r})")
            return NotFoundError(f"Artifact {path!r} does not exist in {self.artifact_uri}")
        if code in (
            "AuthorizationPermissionMismatch",
            "AuthorizationFailure",
            "InsufficientAccountPermissions",
        ):
            letter, action = PERMISSIONS.get(operation, ("", ""))
            return PermissionDeniedError(
                f"Permission denied on Azure {where} while trying to {operation} {path!r}: the credentials "
                f"({self._credential_source}) need the {letter} permission of a SAS, or the data action {action} "
                f"(e.g. the role Storage Blob Data Contributor). {detail}"
            )
        if isinstance(exc, azure.ClientAuthenticationError) or code in (
            "AuthenticationFailed",
            "NoAuthenticationInformation",
        ):
            return UnauthenticatedError(
                f"Azure refused or could not find the credentials ({self._credential_source}) for {where} while "
                f"trying to {operation} {path!r}: {CREDENTIAL_HELP}. {detail}"
            )
        if isinstance(exc, azure.ServiceRequestError):
            return TemporarilyUnavailableError(
                f"Could not reach Azure storage account {self.account!r} while trying to {operation}: {detail}"
            )
        return BakehouseError(
            f"Azure error on {where} while trying to {operation} {path!r}: {code or detail}"
        )

    # ------------------------------------------------------------------ files

    def _upload_file(self, local_path: Path, dest: str, progress: ProgressCallback | None) -> None:
        size = local_path.stat().st_size
        meter = TransferMeter(dest, size, progress)
        hook = _progress_hook(meter)
        container = self.container_client
        with open(local_path, "rb") as fileobj:
            self._call(
                "upload",
                dest,
                lambda: container.upload_blob(
                    self.layout.key(dest),
                    fileobj,
                    length=size,
                    overwrite=True,
                    max_concurrency=MAX_CONCURRENCY,
                    progress_hook=hook,
                    **self._timeout_kwargs,
                ),
            )

    def _download_file(self, src: str, local_path: Path, progress: ProgressCallback | None) -> None:
        container = self.container_client
        hook = _DownloadProgress(src, progress)
        downloader = self._call(
            "download",
            src,
            lambda: container.download_blob(
                self.layout.key(src),
                max_concurrency=MAX_CONCURRENCY,
                progress_hook=hook,
                **self._timeout_kwargs,
            ),
        )
        hook(0, int(downloader.size))  # a file the first request already covered, an empty one
        with open(local_path, "wb") as fileobj:  # the SDK seeks it and writes ranges under its own lock
            self._call("download", src, partial(downloader.readinto, fileobj))

    def _open_read(self, path: str) -> ChunkStream:
        """Ranged reads of one version (pinned by its ETag), STREAM_RANGE_SIZE at a time: the SDK's own
        chunk iterator buffers far more than one chunk, which a proxied download must not."""
        from azure.core import MatchConditions  # installed with azure-storage-blob

        blob = self.container_client.get_blob_client(self.layout.key(path))
        properties = self._call("read", path, partial(blob.get_blob_properties, **self._timeout_kwargs))
        size = int(properties.size)
        etag = properties.etag

        def read() -> Iterator[bytes]:
            for offset in range(0, size, STREAM_RANGE_SIZE):
                length = min(STREAM_RANGE_SIZE, size - offset)
                downloader = self._call(
                    "read",
                    path,
                    partial(
                        blob.download_blob,
                        offset,
                        length,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                        **self._timeout_kwargs,
                    ),
                )
                yield self._call("read", path, downloader.readall)

        return ChunkStream(read(), lambda: None, size)

    def _write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        """Blocks staged as the stream arrives, committed at the end: nothing changes if the stream fails.

        A stream that ends within one block is a single upload (no block list at all).
        """
        blob = self.container_client.get_blob_client(self.layout.key(path))
        buffer = bytearray()
        total = 0
        block_ids: list[str] = []
        token = uuid.uuid4().hex
        for chunk in chunks:
            buffer += chunk
            total += len(chunk)
            while len(buffer) >= STREAM_BLOCK_SIZE:
                with memoryview(buffer) as view:
                    block = bytes(view[:STREAM_BLOCK_SIZE])
                del buffer[:STREAM_BLOCK_SIZE]
                block_id = base64.b64encode(f"{token}-{len(block_ids):08d}".encode()).decode("ascii")
                self._call("write", path, partial(blob.stage_block, block_id, block, **self._timeout_kwargs))
                block_ids.append(block_id)
        if not block_ids:
            self._call(
                "write",
                path,
                partial(blob.upload_blob, bytes(buffer), overwrite=True, **self._timeout_kwargs),
            )
            return total
        if buffer:
            block_id = base64.b64encode(f"{token}-{len(block_ids):08d}".encode()).decode("ascii")
            self._call(
                "write", path, partial(blob.stage_block, block_id, bytes(buffer), **self._timeout_kwargs)
            )
            block_ids.append(block_id)
        self._call("write", path, partial(blob.commit_block_list, block_ids, **self._timeout_kwargs))
        return total

    # ------------------------------------------------------------------ listings

    def _list(self, prefix: str, delimiter: str | None) -> Iterator[Any]:
        """Blobs (and, with a delimiter, ``BlobPrefix`` "directories") below ``prefix``, page by page."""
        container = self.container_client
        if delimiter:
            items = container.walk_blobs(
                name_starts_with=prefix,
                delimiter=delimiter,
                include=["metadata"],
                results_per_page=LIST_PAGE_SIZE,
            )
        else:
            items = container.list_blobs(
                name_starts_with=prefix, include=["metadata"], results_per_page=LIST_PAGE_SIZE
            )
        iterator = iter(items)
        while True:
            item = self._call("list", prefix, partial(next, iterator, None))
            if item is None:
                return
            yield item

    @staticmethod
    def _is_directory_blob(item: Any) -> bool:
        """ADLS Gen2 (hierarchical namespace) shows its directories as empty blobs marked hdi_isfolder."""
        metadata = getattr(item, "metadata", None) or {}
        return str(metadata.get("hdi_isfolder", "")).lower() == "true" or item.name.endswith("/")

    def _list_dir(self, path: str) -> list[FileInfo]:
        prefix = self.layout.dir_prefix(path)
        infos: dict[str, FileInfo] = {}
        for item in self._list(prefix, "/"):
            name = item.name
            if name == prefix or is_hidden_key(name):
                continue
            relative = self.layout.relative(name.rstrip("/"))
            if hasattr(item, "size") and not self._is_directory_blob(item):
                infos[relative] = FileInfo(relative, False, int(item.size or 0))
            else:  # a BlobPrefix, or an ADLS directory blob (listed next to its prefix)
                infos.setdefault(relative, FileInfo(relative, True, None))
        return list(infos.values())

    def _walk(self, path: str) -> Iterator[FileInfo]:
        """One flat listing instead of one request per directory."""
        for item in self._list(self.layout.dir_prefix(path), None):
            if self._is_directory_blob(item) or is_hidden_key(item.name):
                continue
            yield FileInfo(self.layout.relative(item.name), False, int(item.size or 0))

    # ------------------------------------------------------------------ delete

    def _delete(self, path: str) -> None:
        names = [item.name for item in self._list(self.layout.dir_prefix(path), None)]
        if path:
            names.append(self.layout.key(path))
        # deepest first: on ADLS Gen2 a directory blob can only go once it is empty
        names.sort(key=lambda name: name.count("/"), reverse=True)
        container = self.container_client
        for start in range(0, len(names), DELETE_BATCH):
            batch = names[start : start + DELETE_BATCH]
            responses = self._call(
                "delete",
                path,
                partial(container.delete_blobs, *batch, raise_on_any_failure=False, **self._timeout_kwargs),
            )
            for name, response in zip(batch, responses):
                status = int(getattr(response, "status_code", 202))
                if status not in (200, 202, 404):
                    raise self._error(_BatchItemError(response), "delete", self.layout.relative(name))


class _BatchItemError(Exception):
    """One failed sub-request of a blob batch, carrying its error code like the SDK's own errors."""

    def __init__(self, response: Any) -> None:
        headers = getattr(response, "headers", {}) or {}
        self.error_code = headers.get("x-ms-error-code", "")
        self.message = f"HTTP {getattr(response, 'status_code', '?')} {self.error_code}"
        super().__init__(self.message)


def _progress_hook(meter: TransferMeter) -> Callable[[int, int | None], None]:
    """The SDK reports the bytes done so far; the meter wants increments."""
    done = [0]
    lock = threading.Lock()

    def hook(current: int, total: int | None) -> None:
        with lock:
            advance = current - done[0]
            done[0] = max(done[0], current)
        meter.advance(advance)

    return hook


class _DownloadProgress:
    """A download's progress hook: the size is known only once the first range has arrived."""

    def __init__(self, path: str, progress: ProgressCallback | None) -> None:
        self._path = path
        self._progress = progress
        self._hook: Callable[[int, int | None], None] | None = None
        self._lock = threading.Lock()

    def __call__(self, current: int, total: int | None) -> None:
        with self._lock:
            if self._hook is None:
                self._hook = _progress_hook(TransferMeter(self._path, int(total or 0), self._progress))
            hook = self._hook
        hook(current, total)


def reset_clients() -> None:
    """Forget cached clients (tests that change credentials or the emulator address)."""
    with _clients_lock:
        _clients.clear()
