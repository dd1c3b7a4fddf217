"""Artifacts behind a tracking server's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``).

``mlflow-artifacts:/<path>`` (host taken from the tracking URI), ``mlflow-artifacts://host:port/<path>``
and plain ``http(s)://host/.../api/2.0/mlflow-artifacts/artifacts/<path>`` URIs all speak the same API:
``GET``/``PUT``/``DELETE`` on ``artifacts/<path>`` and ``GET artifacts?path=<dir>`` for listings.

Uploads are one streaming PUT with a ``Content-Length`` (the file is never read into memory), downloads
stream to disk, requests are retried as :mod:`bakehouse.wire.retry` decides (connection errors, 429/502/503/504
and timeouts, with back-off, for a bounded time), and names returned by the server are validated before
they become local paths.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import httpx

from bakehouse import settings
from bakehouse.entities import FileInfo
from bakehouse.errors import (
    BakehouseError,
    InvalidParameterError,
    NotFoundError,
    TemporarilyUnavailableError,
    code_for_http_status,
    error_from_code,
)
from bakehouse.settings import HttpSettings
from bakehouse.store.artifacts.base import CHUNK_SIZE, ArtifactRepository, ChunkStream, ProgressCallback
from bakehouse.store.artifacts.direct_download import DirectDownloader, auth_header
from bakehouse.store.artifacts.paths import join_artifact_path, safe_file_name, safe_relative_path
from bakehouse.wire.retry import CallRetry, Failure, RetryPolicy
from bakehouse.wire.tls import client_tls

logger = logging.getLogger(__name__)

ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"


_USERINFO = re.compile(r"://[^/@]*@")


def _redact(url: str) -> str:
    """``http://user:secret@host/...`` → ``http://***@host/...`` for messages and logs."""
    return _USERINFO.sub("://***@", url)


def _failure(exc: httpx.TransportError) -> tuple[Failure, str]:
    """What an httpx error means for the retry policy, and how to say it."""
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "Connection refused" in text or "Errno 111" in text:
            return Failure.NOT_SENT, "connection refused"
        return Failure.NOT_SENT, f"could not connect ({text or type(exc).__name__})"
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Failure.NOT_SENT, f"no answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.TimeoutException):
        return Failure.TIMED_OUT, f"no answer in time ({type(exc).__name__})"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return Failure.LOST, f"connection lost ({str(exc) or type(exc).__name__})"
    return Failure.FATAL, str(exc) or type(exc).__name__


def _error_for(response: httpx.Response, what: str) -> BakehouseError:
    """The same exception class the server raised, rebuilt from its ``{"error_code", "message"}`` body."""
    try:
        text = response.read().decode("utf-8", errors="replace")
    except httpx.HTTPError:
        text = ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        return error_from_code(str(body["error_code"]), str(body.get("message", "")) or f"{what} failed")
    code = code_for_http_status(response.status_code)
    detail = f": {text[:300]}" if text.strip() else ""
    return error_from_code(code.value, f"{what} failed with HTTP {response.status_code}{detail}")


class HttpArtifactRepository(ArtifactRepository):
    """``http(s)://host[:port][/prefix]/api/2.0/mlflow-artifacts/artifacts[/<root>]``."""

    accepts_tracking_uri = True

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, http_settings: HttpSettings | None = None
    ) -> None:
        super().__init__(artifact_uri)
        base, root = self._parse(artifact_uri, tracking_uri)
        self.server_url = base.rstrip("/")
        self.root = safe_relative_path(root)
        self.http = http_settings or HttpSettings.from_env()
        self._client: httpx.Client | None = None
        self._direct: DirectDownloader | None = None
        self._client_lock = threading.Lock()
        self.retry_policy = RetryPolicy.from_settings(self.http)

    @staticmethod
    def _parse(artifact_uri: str, tracking_uri: str | None) -> tuple[str, str]:
        parsed = urlparse(artifact_uri)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidParameterError(f"Not an http(s) artifact URI: {artifact_uri!r}")
        prefix, marker, tail = parsed.path.partition(ARTIFACTS_API)
        if not marker or (tail and not tail.startswith("/")):
            raise InvalidParameterError(
                f"HTTP artifact URIs must point into the artifact proxy ('{ARTIFACTS_API}/...'): {artifact_uri!r}"
            )
        return f"{parsed.scheme}://{parsed.netloc}{prefix}", unquote(tail.strip("/"))

    # ------------------------------------------------------------------ transport

    @property
    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(
                    headers=auth_header(self.http.token, self.http.username, self.http.password),
                    verify=client_tls(self.http),
                    timeout=httpx.Timeout(self.http.timeout, connect=min(self.http.timeout, 30.0)),
                    limits=httpx.Limits(
                        max_connections=self.max_workers * 2, max_keepalive_connections=self.max_workers
                    ),
                    follow_redirects=True,
                )
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._direct is not None:
                self._direct.close()

    def _file_url(self, path: str) -> str:
        full = join_artifact_path(self.root, path)
        return f"{self.server_url}{ARTIFACTS_API}/{quote(full, safe='/')}"

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: Callable[[], Any] | None = None,
        stream: bool = False,
        retriable: bool = True,
    ) -> httpx.Response:
        """One request, retried as :mod:`bakehouse.wire.retry` decides. Every call of this API is safe to
        repeat (reads, whole-file PUTs, deletes); a body that can be read only once is sent once."""
        policy = self.retry_policy if retriable else RetryPolicy(max_retries=0)
        retry = CallRetry(
            policy,
            self.server_url,
            f"{method} {_redact(url)}",
            idempotent=True,
            label="the artifact server",
            timeout=self.http.timeout,
        )
        while True:
            try:
                request = self.client.build_request(
                    method, url, params=params, headers=headers, content=content() if content else None
                )
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                retry.after_error(exc, *_failure(exc))
                continue
            if retry.after_response(response):
                continue
            return response

    def _checked(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 400:
            try:
                raise _error_for(response, what)
            finally:
                response.close()
        return response

    # ------------------------------------------------------------------ primitives

    def _upload_file(self, local_path: Path, dest: str, progress: ProgressCallback | None) -> None:
        size = local_path.stat().st_size
        content_type = mimetypes.guess_type(local_path.name)[0] or "application/octet-stream"

        reported = 0  # a retried upload re-reads the file: report each byte once

        def body() -> Iterator[bytes]:
            nonlocal reported
            sent = 0
            with open(local_path, "rb") as fileobj:
                while chunk := fileobj.read(CHUNK_SIZE):
                    sent += len(chunk)
                    if progress is not None and sent > reported:
                        progress(dest, sent - reported, size)
                        reported = sent
                    yield chunk

        if progress is not None:
            progress(dest, 0, size)

        headers = {"Content-Length": str(size), "Content-Type": content_type}
        response = self._send("PUT", self._file_url(dest), headers=headers, content=body)
        self._checked(response, f"Uploading artifact {dest!r}").close()

    def _write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        written = 0

        def body() -> Iterator[bytes]:
            nonlocal written
            for chunk in chunks:
                written += len(chunk)
                yield chunk

        # the caller's iterator can only be consumed once, so this request is never retried
        response = self._send(
            "PUT",
            self._file_url(path),
            headers={"Content-Type": "application/octet-stream"},
            content=body,
            retriable=False,
        )
        self._checked(response, f"Uploading artifact {path!r}").close()
        return written

    def _get_stream(self, path: str) -> httpx.Response:
        response = self._send("GET", self._file_url(path), stream=True)
        if response.status_code == 404:
            response.close()
            raise NotFoundError(f"Artifact {path!r} does not exist in {self.artifact_uri}")
        return self._checked(response, f"Downloading artifact {path!r}")

    @property
    def direct(self) -> DirectDownloader:
        with self._client_lock:
            if self._direct is None:
                self._direct = DirectDownloader(
                    auth_header(self.http.token, self.http.username, self.http.password),
                    client_tls(self.http),
                    self.http.timeout,
                )
            return self._direct

    def _download_file(self, src: str, local_path: Path, progress: ProgressCallback | None) -> None:
        report = None if progress is None else (lambda n, total: progress(src, n, total))
        try:
            with open(local_path, "wb") as out:
                if self.direct.download(self._file_url(src), out, report) is not None:
                    return
        except OSError as exc:
            raise TemporarilyUnavailableError(f"Downloading artifact {src!r} was interrupted: {exc}") from exc
        response = self._get_stream(src)  # redirects, error answers, proxies, retries: the httpx client
        try:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress is not None:
                progress(src, 0, total)
            with open(local_path, "wb") as out:
                for chunk in response.iter_bytes():  # as received: re-chunking would copy every byte
                    out.write(chunk)
                    if progress is not None:
                        progress(src, len(chunk), total)
        except httpx.HTTPError as exc:
            raise TemporarilyUnavailableError(f"Downloading artifact {src!r} was interrupted: {exc}") from exc
        finally:
            response.close()

    def _open_read(self, path: str) -> ChunkStream:
        response = self._get_stream(path)
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        return ChunkStream(response.iter_bytes(CHUNK_SIZE), response.close, size)

    def _list_dir(self, path: str) -> list[FileInfo]:
        params = {"path": join_artifact_path(self.root, path)}
        response = self._send("GET", f"{self.server_url}{ARTIFACTS_API}", params=params)
        body = self._checked(response, f"Listing artifacts in {path or '/'!r}").json()
        files = body.get("files", []) if isinstance(body, dict) else []
        infos = []
        for entry in files:
            name = safe_file_name(str(entry.get("path", "")))  # never trust a server-provided name
            is_dir = bool(entry.get("is_dir", False))
            size = entry.get("file_size")
            infos.append(
                FileInfo(
                    join_artifact_path(path, name), is_dir, None if is_dir or size is None else int(size)
                )
            )
        return sorted(infos, key=lambda info: info.path)

    def _delete(self, path: str) -> None:
        if join_artifact_path(self.root, path) == "":
            raise InvalidParameterError("Refusing to delete the whole artifact store through the proxy")
        response = self._send("DELETE", self._file_url(path))
        if response.status_code == 404:
            response.close()
            return
        self._checked(response, f"Deleting artifact {path!r}").close()


class ProxyArtifactRepository(HttpArtifactRepository):
    """``mlflow-artifacts:/<path>`` or ``mlflow-artifacts://host:port/<path>``.

    The server address comes from ``tracking_uri`` (the Client passes its own), else from
    ``BAKEHOUSE_TRACKING_URI`` / ``MLFLOW_TRACKING_URI``; a host in the artifact URI wins over the tracking
    URI's host, as in MLflow.
    """

    @staticmethod
    def _parse(artifact_uri: str, tracking_uri: str | None) -> tuple[str, str]:
        parsed = urlparse(artifact_uri)
        if parsed.scheme != "mlflow-artifacts":
            raise InvalidParameterError(f"Not an mlflow-artifacts URI: {artifact_uri!r}")
        if parsed.netloc and not parsed.hostname:
            raise InvalidParameterError(
                f"The mlflow-artifacts URI {artifact_uri!r} has a port but no host name; "
                "use mlflow-artifacts://host:port/path or mlflow-artifacts:/path"
            )
        tracking = tracking_uri or settings.tracking_uri_from_env()
        track = urlparse(tracking) if tracking else None
        track_is_http = track is not None and track.scheme in ("http", "https") and bool(track.netloc)
        if parsed.netloc:
            scheme = track.scheme if track is not None and track_is_http else "http"
            base = f"{scheme}://{parsed.netloc}{track.path.rstrip('/') if track is not None and track_is_http else ''}"
        elif track is not None and track_is_http:
            base = f"{track.scheme}://{track.netloc}{track.path.rstrip('/')}"
        else:
            raise InvalidParameterError(
                f"The artifact URI {artifact_uri!r} is served by a tracking server, but the tracking URI "
                f"{tracking!r} is not an http(s) URL; set BAKEHOUSE_TRACKING_URI to the server's address"
            )
        return base, parsed.path.strip("/")
