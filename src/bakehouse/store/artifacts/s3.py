"""Artifacts in S3 or any S3-compatible store (``s3://bucket/prefix``).

boto3 is imported lazily (it costs ~0.3 s) and one client is shared per configuration, because creating a
client is slower than most small transfers. Large files go through boto3's managed multipart transfers;
``write_stream`` does its own multipart upload so a proxied stream is never held in memory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bakehouse import settings
from bakehouse.entities import FileInfo
from bakehouse.errors import BakehouseError, InvalidParameterError, NotFoundError
from bakehouse.store.artifacts.base import ArtifactRepository, ChunkStream, ProgressCallback

if TYPE_CHECKING:  # pragma: no cover
    from boto3.s3.transfer import TransferConfig

#: Files at or above this size are uploaded/downloaded in parts.
MULTIPART_THRESHOLD = 16 * 1024 * 1024
#: Part size for managed transfers and for streamed writes (S3's minimum part size is 5 MiB).
MULTIPART_CHUNK_SIZE = 16 * 1024 * 1024
STREAM_PART_SIZE = 8 * 1024 * 1024
MAX_CONCURRENCY = 8

logger = logging.getLogger(__name__)

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def _s3_client(
    endpoint_url: str | None, addressing_style: str | None, verify: bool, region: str | None
) -> Any:
    key = (endpoint_url, addressing_style, verify, region)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3  # heavy: only when S3 is used
            from botocore.config import Config

            config = Config(
                s3={"addressing_style": addressing_style or "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=max(10, MAX_CONCURRENCY * 2),
            )
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, config=config, verify=verify, region_name=region
            )
            _clients[key] = client
        return client


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("404", "NoSuchKey", "NotFound") or status == 404


def _storage_error(exc: Exception, what: str) -> BakehouseError:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
    if code == "NoSuchBucket":
        return NotFoundError(f"S3 bucket does not exist while trying to {what}")
    return BakehouseError(f"S3 error while trying to {what}: {code or type(exc).__name__}")


class S3ArtifactRepository(ArtifactRepository):
    """Artifacts below ``s3://<bucket>/<prefix>``.

    The endpoint comes from ``endpoint_url`` or ``settings.s3_endpoint_url()``
    (``BAKEHOUSE_S3_ENDPOINT_URL``, ``MLFLOW_S3_ENDPOINT_URL``, ``AWS_ENDPOINT_URL``); with a custom
    endpoint, path-style addressing is the default (MinIO, SeaweedFS, moto and most S3 clones need it).
    """

    max_workers = MAX_CONCURRENCY

    def __init__(
        self,
        artifact_uri: str,
        endpoint_url: str | None = None,
        addressing_style: str | None = None,
        region: str | None = None,
    ) -> None:
        super().__init__(artifact_uri)
        parsed = urlparse(artifact_uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidParameterError(f"Not an S3 URI (expected s3://bucket/prefix): {artifact_uri!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint_url = endpoint_url or settings.s3_endpoint_url()
        self.addressing_style = addressing_style or ("path" if self.endpoint_url else None)
        self.verify = not settings.s3_ignore_tls()
        self.region = region

    @property
    def client(self) -> Any:
        return _s3_client(self.endpoint_url, self.addressing_style, self.verify, self.region)

    def check_reachable(self) -> None:
        """One listing of at most one key: fails if the endpoint, the bucket or the credentials do not work."""
        self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._dir_prefix(""), MaxKeys=1)

    def _key(self, path: str) -> str:
        if not path:
            return self.prefix
        return f"{self.prefix}/{path}" if self.prefix else path

    def _dir_prefix(self, path: str) -> str:
        key = self._key(path)
        return f"{key}/" if key else ""

    def _transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig  # heavy optional dependency

        return TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK_SIZE,
            max_concurrency=MAX_CONCURRENCY,
            use_threads=True,
        )

    # ------------------------------------------------------------------ files

    def _upload_file(self, local_path: Path, dest: str, progress: ProgressCallback | None) -> None:
        size = local_path.stat().st_size
        callback = None
        if progress is not None:
            progress(dest, 0, size)
            callback = lambda amount: progress(dest, amount, size)
        if size < MULTIPART_THRESHOLD:
            self._put_small_file(local_path, dest, size, callback)
            return
        try:
            self.client.upload_file(
                str(local_path),
                self.bucket,
                self._key(dest),
                Config=self._transfer_config(),
                Callback=callback,
            )
        except Exception as exc:  # boto3/botocore errors carry no common base worth importing eagerly
            raise _storage_error(exc, f"upload {dest!r}") from exc

    def _put_small_file(
        self, local_path: Path, dest: str, size: int, callback: Callable[[int], None] | None
    ) -> None:
        """One PUT. ``upload_file`` would build a transfer manager and its thread pool for every file: with
        ``log_artifacts`` running eight uploads at once that halved the rate of many small files."""
        try:
            with open(local_path, "rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=self._key(dest), Body=body)
        except Exception as exc:  # boto3/botocore errors carry no common base worth importing eagerly
            raise _storage_error(exc, f"upload {dest!r}") from exc
        if callback is not None and size:
            callback(size)

    def _download_file(self, src: str, local_path: Path, progress: ProgressCallback | None) -> None:
        key = self._key(src)
        callback = None
        if progress is not None:
            try:
                size = int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
            except Exception as exc:
                if _is_not_found(exc):
                    raise NotFoundError(f"Artifact {src!r} does not exist in {self.artifact_uri}") from exc
                raise _storage_error(exc, f"download {src!r}") from exc
            progress(src, 0, size)
            callback = lambda amount: progress(src, amount, size)
        try:
            self.client.download_file(
                self.bucket, key, str(local_path), Config=self._transfer_config(), Callback=callback
            )
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFoundError(f"Artifact {src!r} does not exist in {self.artifact_uri}") from exc
            raise _storage_error(exc, f"download {src!r}") from exc

    def _open_read(self, path: str) -> ChunkStream:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFoundError(f"Artifact {path!r} does not exist in {self.artifact_uri}") from exc
            raise _storage_error(exc, f"read {path!r}") from exc
        return ChunkStream.from_file(response["Body"], size=int(response.get("ContentLength", 0)))

    def _write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        """Small streams become one PUT; larger ones a multipart upload buffering one part at a time.

        With 8 MiB parts and S3's 10,000-part limit a single stream can be up to ~80 GB.
        """
        key = self._key(path)
        buffer = bytearray()
        total = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        client = self.client
        try:
            for chunk in chunks:
                buffer += chunk
                total += len(chunk)
                while len(buffer) >= STREAM_PART_SIZE:
                    if upload_id is None:
                        upload_id = client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
                    with memoryview(buffer) as view:
                        part = bytes(view[:STREAM_PART_SIZE])
                    del buffer[:STREAM_PART_SIZE]
                    number = len(parts) + 1
                    etag = client.upload_part(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                    )["ETag"]
                    parts.append({"PartNumber": number, "ETag": etag})
            if upload_id is None:
                client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
                return total
            if buffer:
                number = len(parts) + 1
                etag = client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer)
                )["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
            return total
        except BaseException as exc:
            if upload_id is not None:
                try:
                    client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                except Exception:  # the original error matters more: log this one
                    logger.warning("could not abort multipart upload %s of %r", upload_id, key, exc_info=True)
            if (
                isinstance(exc, Exception)
                and not isinstance(exc, BakehouseError)
                and hasattr(exc, "response")
            ):
                raise _storage_error(exc, f"write {path!r}") from exc
            raise

    # ------------------------------------------------------------------ listings

    def _pages(self, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            yield from paginator.paginate(**kwargs)
        except Exception as exc:
            raise _storage_error(exc, f"list {prefix!r}") from exc

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _list_dir(self, path: str) -> list[FileInfo]:
        prefix = self._dir_prefix(path)
        infos: list[FileInfo] = []
        for page in self._pages(prefix, "/"):
            for common in page.get("CommonPrefixes", []):
                infos.append(FileInfo(self._relative(common["Prefix"].rstrip("/")), True, None))
            for obj in page.get("Contents", []):
                if obj["Key"] == prefix:  # a "directory marker" object
                    continue
                infos.append(FileInfo(self._relative(obj["Key"]), False, int(obj["Size"])))
        return sorted(infos, key=lambda info: info.path)

    def _walk(self, path: str) -> Iterator[FileInfo]:
        """One flat listing instead of one request per directory."""
        prefix = self._dir_prefix(path)
        for page in self._pages(prefix, None):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/"):
                    continue
                yield FileInfo(self._relative(obj["Key"]), False, int(obj["Size"]))

    # ------------------------------------------------------------------ delete

    def _delete(self, path: str) -> None:
        keys: list[str] = []
        if path:
            keys.append(self._key(path))
        keys.extend(
            obj["Key"]
            for page in self._pages(self._dir_prefix(path), None)
            for obj in page.get("Contents", [])
        )
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise _storage_error(exc, f"delete {path!r}") from exc
