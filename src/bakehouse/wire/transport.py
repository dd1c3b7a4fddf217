"""The HTTP transport every REST store uses.

One pool of keep-alive connections per process (re-made after ``fork``), a timeout on every call, retries
as :mod:`bakehouse.wire.retry` decides (what is safe to resend, for how long, saying so once), credentials
from :class:`bakehouse.settings.HttpSettings` (Basic or Bearer), TLS as :mod:`bakehouse.wire.tls` says,
and error bodies rebuilt into the exception classes of :mod:`bakehouse.errors` so ``except NotFoundError``
works the same against a server.

Built on the standard library's ``http.client``: a search is one short request, and the client's own CPU
is part of its answer time. Per call, httpx spent ~1.0 ms of client CPU, urllib3 ~0.6 ms and
``http.client`` ~0.35 ms (a 2,000-run search answered in 2-5 ms, on a loaded 2-core machine), and
``import httpx`` brought click, rich and pygments (its command line) into every process that made a
client; urllib3 imports ``importlib.metadata``. What is kept of a full client: a pool (a connection the
server closed while idle is noticed before reuse), connect and read timeouts, TLS with host name checks,
``TCP_NODELAY`` and a request's head and body in one write (``http.client`` does both). Not done, as
before: proxies from the environment (the tracking client never read HTTP(S)_PROXY), redirects, and
compressed answers (none is asked for).
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from bakehouse.errors import BakehouseError, InvalidParameterError, code_for_http_status, error_from_code
from bakehouse.settings import HttpSettings
from bakehouse.version import __version__ as _version
from bakehouse.wire.retry import CallRetry, Failure, Headers, RetryPolicy
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


class _NotSent(Exception):
    """The connection could not be opened (refused, unknown host, connect timeout, TLS handshake)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Reply:
    """One HTTP answer: status, headers (case-insensitive), and the body, whole or streamed.

    A streamed reply holds its connection until read to the end or closed; ``close()`` hands a fully read
    connection back to the pool, and drops one whose body was left unread.
    """

    __slots__ = ("_body", "_conn", "_pool", "_response", "headers", "method", "path", "status_code")

    def __init__(
        self,
        response: http.client.HTTPResponse,
        conn: http.client.HTTPConnection,
        pool: _Pool,
        method: str,
        path: str,
    ) -> None:
        self._response = response
        self._conn: http.client.HTTPConnection | None = conn
        self._pool = pool
        self._body: bytes | None = None
        self.method = method
        self.path = path
        self.status_code = response.status
        self.headers: Headers = response.headers

    @property
    def content(self) -> bytes:
        """The whole body (read now if the reply was streamed)."""
        if self._body is None:
            try:
                self._body = self._response.read()
            finally:
                self.close()
        return self._body

    def iter_bytes(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The body as it arrives, in pieces of up to ``chunk_size`` bytes; the connection goes back to the
        pool at the end."""
        try:
            while chunk := self._response.read1(chunk_size):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        response = self._response
        if response.isclosed() and not response.will_close:  # read to its end: the connection is reusable
            self._pool.put(conn)
        else:  # body left unread (or the server closes): this connection cannot carry another request
            response.close()
            conn.close()


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


def failure_of(exc: BaseException) -> tuple[Failure, str]:
    """What a failed attempt means for the retry policy, and how to say it."""
    if isinstance(exc, _NotSent):
        cause = exc.cause
        if isinstance(cause, ConnectionRefusedError):
            return Failure.NOT_SENT, "connection refused"
        if isinstance(cause, TimeoutError):
            return Failure.NOT_SENT, "no answer in time (ConnectTimeout)"
        return Failure.NOT_SENT, f"could not connect ({cause or type(cause).__name__})"
    if isinstance(exc, TimeoutError):
        return Failure.TIMED_OUT, "no answer in time (ReadTimeout)"
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return Failure.LOST, f"connection lost ({exc or type(exc).__name__})"
    return Failure.FATAL, str(exc) or type(exc).__name__


class _Pool:
    """Idle keep-alive connections to one server, newest first. More may be open at once; beyond
    ``POOL_SIZE`` idle ones, a returned connection is closed."""

    def __init__(self, new: Callable[[], http.client.HTTPConnection]) -> None:
        self._new = new
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.opened = 0  # connections made, for tests and diagnostics

    def get(self) -> http.client.HTTPConnection:
        """An idle connection the server has not closed meanwhile, or a new (not yet connected) one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                self.opened += 1
                return self._new()
            if conn.sock is not None and not _readable(conn.sock):
                return conn
            conn.close()  # the server closed it while idle (or sent something unasked): not reusable

    def put(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(conn)
                return
        conn.close()

    def idle(self) -> list[http.client.HTTPConnection]:
        with self._lock:
            return list(self._idle)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: its end of file, once the server closed it."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _dumps(body: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an integer beyond 64 bits: send it anyway, the server refuses it clearly
        import json

        return json.dumps(body, default=str).encode()


class HttpTransport:
    """Talks to one server (``base_url`` = the tracking URI, e.g. ``http://host:5000/prefix``)."""

    def __init__(self, base_url: str, settings: HttpSettings | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings.from_env()
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidParameterError(f"Not an http(s) server URL: {base_url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._pool: _Pool | None = None
        self._pool_pid = -1
        self._lock = threading.Lock()
        self._default_headers = self._headers()
        self.retry_policy = RetryPolicy.from_settings(self.settings)

    # --------------------------------------------------------------------------------- connection
    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"bakehouse/{_version}"}
        s = self.settings
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        elif s.username:
            basic = base64.b64encode(f"{s.username}:{s.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        return headers

    @property
    def pool(self) -> _Pool:
        """This process's keep-alive connections (a forked child makes its own: sockets are not shared)."""
        if self._pool is None or self._pool_pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    self._pool = _Pool(self._connection_factory())
                    self._pool_pid = os.getpid()
        return self._pool

    def _connection_factory(self) -> Callable[[], http.client.HTTPConnection]:
        connect_timeout = min(self.settings.timeout, CONNECT_TIMEOUT_CAP)
        host, port = self._host, self._port
        if self._scheme == "http":
            # no redirect is followed, so a plain-http client never needs a CA list (25-45 ms to load)
            return lambda: http.client.HTTPConnection(host, port, timeout=connect_timeout)
        tls = client_tls(self.settings)
        if not isinstance(tls, ssl.SSLContext):  # False: verification turned off, no client certificate
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
        context = tls
        return lambda: http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=context)

    def prepare(self) -> None:
        """Build the connection pool now (and the TLS context of an https server), sending nothing.

        Done when a tracking URI is chosen, so the first call of a process costs what later ones do. The
        first connection would also import the ``idna`` codec (``getaddrinfo`` encodes every host name with
        it; ~1 ms with ``stringprep``): loaded here too. Nothing is resolved or connected.
        """
        _ = self.pool
        self._host.encode("idna")

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
        read_timeout = timeout if timeout is not None else self.settings.timeout
        retry = CallRetry(
            self.retry_policy,
            self.base_url,
            f"{method} {path}",
            idempotent=method in SAFE_METHODS if idempotent is None else idempotent,
            label="the tracking server",
            timeout=read_timeout,
        )
        url = self._prefix + path
        if params:
            url += "?" + urlencode(params, quote_via=quote)
        all_headers = {**self._default_headers, **headers} if headers else self._default_headers
        pool = self.pool
        while True:
            body = content() if callable(content) else content
            try:
                reply = self._attempt(pool, method, url, body, all_headers, read_timeout, path)
                if not stream:
                    _ = reply.content  # read whole: the connection goes back to the pool now
            except (_NotSent, OSError, http.client.HTTPException) as exc:
                retry.after_error(exc, *failure_of(exc))
                continue
            if retry.after_response(reply):
                continue
            if reply.status_code >= 400:
                try:
                    raise retry.annotate(error_from_response(reply))
                finally:
                    reply.close()
            return reply

    def _attempt(
        self,
        pool: _Pool,
        method: str,
        url: str,
        body: Any,
        headers: Mapping[str, str],
        read_timeout: float,
        path: str,
    ) -> Reply:
        conn = pool.get()
        try:
            if conn.sock is None:
                try:
                    conn.connect()
                except OSError as exc:  # refused, unknown host, connect timeout, TLS handshake
                    raise _NotSent(exc) from exc
            conn.sock.settimeout(read_timeout)
            conn.request(method, url, body, headers)
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        return Reply(response, conn, pool, method, path)

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
