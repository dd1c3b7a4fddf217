"""The HTTP transport every REST store uses.

One keep-alive connection pool per process (re-created after ``fork``) on urllib3, a timeout on every call,
retries as :mod:`bakehouse.wire.retry` decides (what is safe to resend, for how long, saying so once),
credentials from :class:`bakehouse.settings.HttpSettings` (Basic or Bearer), TLS as :mod:`bakehouse.wire.tls`
says, and error bodies rebuilt into the exception classes of :mod:`bakehouse.errors` so ``except
NotFoundError`` works the same against a server.

Why urllib3 and not httpx: a search is one short request, and httpx spent ~0.6-0.8 ms of client CPU on each
(its request/response models, h11 state machine, header normalising) against ~0.2 ms for a plain
``http.client`` request; ``import httpx`` also brought click, rich and pygments (its command line) into every
process that made a client. urllib3 is ``http.client`` plus the pool, timeouts and TLS checks, and is
already installed with botocore. Environment proxies are not used (as before: the tracking client never
read HTTP(S)_PROXY); no redirect is followed.
"""

from __future__ import annotations

import base64
import logging
import os
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
import urllib3
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InsecureRequestWarning,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from bakehouse.errors import BakehouseError, code_for_http_status, error_from_code
from bakehouse.settings import HttpSettings
from bakehouse.version import __version__ as _version
from bakehouse.wire.retry import CallRetry, Failure, RetryPolicy
from bakehouse.wire.tls import client_tls

logger = logging.getLogger(__name__)


#: methods that are safe to send twice unless the caller says otherwise
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT"})
#: idle keep-alive connections kept per process (more may be open at once; the extra are closed after use)
POOL_SIZE = 32
#: the longest a connection may take to open, whatever the request timeout
CONNECT_TIMEOUT_CAP = 10.0


def encode_query(body: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A request dict as MLflow's GET convention: repeated keys for lists, ``true``/``false`` booleans."""
    params: list[tuple[str, str]] = []
    for key, value in (body or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                params.append((key, "true" if item else "false"))
            else:
                params.append((key, str(item)))
    return params


class Reply:
    """One HTTP answer: status, headers (case-insensitive), and the body, whole or streamed.

    A streamed reply holds its connection until read to the end or closed; ``close()`` hands a fully read
    connection back to the pool, and drops one whose body was left unread.
    """

    __slots__ = ("_response", "headers", "method", "path", "status_code")

    def __init__(self, response: urllib3.BaseHTTPResponse, method: str, path: str) -> None:
        self._response = response
        self.method = method
        self.path = path
        self.status_code = response.status
        self.headers: Mapping[str, str] = response.headers

    @property
    def content(self) -> bytes:
        """The whole body (read now if the reply was streamed)."""
        return self._response.data

    def iter_bytes(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The body as it arrives, in pieces of up to ``chunk_size`` bytes (decoded if compressed)."""
        return self._response.stream(chunk_size)

    def close(self) -> None:
        response = self._response
        if not response.closed:  # body left unread: this connection cannot carry another request
            response.close()
        response.release_conn()


def error_from_response(response: Reply) -> BakehouseError:
    """The exception a failed answer stands for (JSON error body if any, else the HTTP status)."""
    content = response.content
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        return error_from_code(str(body["error_code"]), str(body.get("message", "")))
    text = content[:500].decode("utf-8", errors="replace")
    code = code_for_http_status(response.status_code)
    return error_from_code(
        code.value, f"{response.method} {response.path} failed with HTTP {response.status_code}: {text}"
    )


def failure_of(exc: HTTPError) -> tuple[Failure, str]:
    """What a urllib3 error means for the retry policy, and how to say it."""
    if isinstance(exc, NewConnectionError):  # refused, unknown host (before ConnectTimeoutError: a subclass)
        text = str(exc)
        if "Connection refused" in text or "Errno 111" in text:
            return Failure.NOT_SENT, "connection refused"
        return Failure.NOT_SENT, f"could not connect ({text})"
    if isinstance(exc, ConnectTimeoutError):
        return Failure.NOT_SENT, "no answer in time (ConnectTimeout)"
    if isinstance(exc, SSLError):  # the handshake failed: nothing was sent
        return Failure.NOT_SENT, f"could not connect ({exc})"
    if isinstance(exc, ReadTimeoutError):
        return Failure.TIMED_OUT, "no answer in time (ReadTimeout)"
    if isinstance(exc, ProtocolError):
        return Failure.LOST, f"connection lost ({exc})"
    return Failure.FATAL, str(exc) or type(exc).__name__


def _dumps(body: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an integer beyond 64 bits: send it anyway, the server refuses it clearly
        import json

        return json.dumps(body, default=str).encode()


class _UnverifiedHttpsPool(HTTPSConnectionPool):
    """The HTTPS pool when verification is turned off, without urllib3's warning on every request:
    :mod:`bakehouse.wire.tls` has said so once already (and a global filter would silence the warning for
    every other urllib3 user in the process)."""

    def _validate_conn(self, conn: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)
            super()._validate_conn(conn)


def _timeout(seconds: float) -> urllib3.Timeout:
    return urllib3.Timeout(connect=min(seconds, CONNECT_TIMEOUT_CAP), read=seconds)


class HttpTransport:
    """Talks to one server (``base_url`` = the tracking URI, e.g. ``http://host:5000/prefix``)."""

    def __init__(self, base_url: str, settings: HttpSettings | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings.from_env()
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Not an http(s) server URL: {base_url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._pool: HTTPConnectionPool | None = None
        self._pool_pid = -1
        self._lock = threading.Lock()
        self._timeout = _timeout(self.settings.timeout)
        self.retry_policy = RetryPolicy.from_settings(self.settings)

    # --------------------------------------------------------------------------------- connection
    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"bakehouse/{_version}", "Accept-Encoding": "gzip, deflate"}
        s = self.settings
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        elif s.username:
            basic = base64.b64encode(f"{s.username}:{s.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        return headers

    @property
    def pool(self) -> HTTPConnectionPool:
        """This process's keep-alive pool (a forked child builds its own: sockets are not shared)."""
        if self._pool is None or self._pool_pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    self._pool = self._new_pool()
                    self._pool_pid = os.getpid()
        return self._pool

    def _new_pool(self) -> HTTPConnectionPool:
        common: dict[str, Any] = {
            "maxsize": POOL_SIZE,
            "block": False,
            "headers": self._headers(),
            "timeout": self._timeout,
            "retries": False,  # retry.py decides
        }
        if self._scheme == "http":
            # no redirect is followed, so a plain-http pool never needs a CA list (25-45 ms to load)
            return HTTPConnectionPool(self._host, self._port, **common)
        tls = client_tls(self.settings)
        if not isinstance(tls, ssl.SSLContext):  # False: verification turned off, no client certificate
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
        if tls.verify_mode == ssl.CERT_NONE:
            return _UnverifiedHttpsPool(self._host, self._port, ssl_context=tls, **common)
        return HTTPSConnectionPool(self._host, self._port, ssl_context=tls, **common)

    def prepare(self) -> None:
        """Build the connection pool now (and the TLS context of an https server), sending nothing.

        Done when a tracking URI is chosen, so the first call of a process costs what later ones do.
        """
        _ = self.pool

    def close(self) -> None:
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.close()
        self._pool = None

    # ------------------------------------------------------------------------------------ requests
    def send(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        content: bytes | Callable[[], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        idempotent: bool | None = None,
    ) -> Reply:
        """One request, retried as :mod:`bakehouse.wire.retry` decides; raises the rebuilt BakehouseError for
        a non-2xx answer.

        ``idempotent``: whether sending the request twice is harmless (default: GET and PUT are). ``content``
        may be a zero-argument callable returning a fresh body (bytes, file or iterator), so a streamed upload
        can be retried from the start. A ``stream``ed reply must be closed (or read to its end).
        """
        retry = CallRetry(
            self.retry_policy,
            self.base_url,
            f"{method} {path}",
            idempotent=method in SAFE_METHODS if idempotent is None else idempotent,
            label="the tracking server",
            timeout=timeout if timeout is not None else self.settings.timeout,
        )
        url = self._prefix + path
        if params:
            url += "?" + urlencode(params, quote_via=quote)
        call_timeout = self._timeout if timeout is None else _timeout(timeout)
        pool = self.pool
        if headers:
            headers = {**pool.headers, **headers}
        while True:
            body = content() if callable(content) else content
            try:
                response = pool.urlopen(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    redirect=False,
                    timeout=call_timeout,
                    preload_content=not stream,
                    release_conn=not stream,
                )
            except HTTPError as exc:
                retry.after_error(exc, *failure_of(exc))
                continue
            reply = Reply(response, method, path)
            if retry.after_response(reply):
                continue
            if reply.status_code >= 400:
                try:
                    raise retry.annotate(error_from_response(reply))
                finally:
                    reply.close()
            return reply

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """A JSON RPC: GET bodies go to the query string, others are sent as JSON. Returns the JSON answer."""
        return decode_answer(self.call_for_bytes(method, path, body, timeout=timeout, idempotent=idempotent))

    def call_for_bytes(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        idempotent: bool | None = None,
    ) -> bytes:
        """:meth:`call`, returning the answer's JSON undecoded (for callers that decode it in bulk)."""
        if method == "GET":
            response = self.send(
                method, path, params=encode_query(body), timeout=timeout, idempotent=idempotent
            )
        else:
            response = self.send(
                method,
                path,
                content=_dumps(body or {}),
                headers=_JSON,
                timeout=timeout,
                idempotent=idempotent,
            )
        return response.content

    # ------------------------------------------------------------------------------------ bytes
    def upload_file(self, path: str, local_file: str, content_type: str = "application/octet-stream") -> None:
        """Stream a local file as the PUT body (never held in memory; restarted from 0 on a retry)."""
        size = os.path.getsize(local_file)

        def body() -> Iterator[bytes]:
            with open(local_file, "rb") as fh:
                while True:
                    chunk = fh.read(1024 * 1024)
                    if not chunk:
                        return
                    yield chunk

        self.send(
            "PUT",
            path,
            content=body,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
        ).close()

    def download_to(self, path: str, out: IO[bytes], params: list[tuple[str, str]] | None = None) -> int:
        """Stream a GET response body into ``out``; returns the byte count."""
        response = self.send("GET", path, params=params, stream=True)
        written = 0
        try:
            for chunk in response.iter_bytes(1024 * 1024):
                out.write(chunk)
                written += len(chunk)
        finally:
            response.close()
        return written


_JSON = {"Content-Type": "application/json"}


def decode_answer(content: bytes) -> dict[str, Any]:
    """A JSON answer's object (``{}`` for an empty body or anything but an object)."""
    if not content:
        return {}
    result = orjson.loads(content)
    return result if isinstance(result, dict) else {}


def quote_path(path: str) -> str:
    """Percent-encode an artifact path for a URL, keeping ``/`` separators."""
    return quote(path, safe="/")
