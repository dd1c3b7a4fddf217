"""The HTTP transport every REST store uses: JSON calls to one tracking server.

Built on the standard library's ``http.client``: a script or notebook that searches a server once pays for
no HTTP library import and no client set-up on its first call (httpx cost ~0.3 s of imports and ~0.1 s
to build its first client; that is what made the first search of a process several times slower than
the next). Keep-alive connections are pooled per process (dropped after ``fork``), every call has a
timeout, connection errors and 429/503 answers are retried with exponential backoff (honouring
``Retry-After``), credentials come from :class:`bakehouse.settings.HttpSettings` (Basic or Bearer), and
error bodies are rebuilt into the exception classes of :mod:`bakehouse.errors` so ``except
NotFoundError`` works the same against a server. A TLS context (for ``https``) is built once, up front.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import random
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from bakehouse.errors import BakehouseError, code_for_http_status, error_from_code
from bakehouse.settings import HttpSettings
from bakehouse.version import __version__ as _version
from bakehouse.wire.tls import client_tls

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503})
MAX_BACKOFF_SECONDS = 30.0
MAX_IDLE_CONNECTIONS = 32
#: what a failed connection looks like from http.client (refused, reset, closed by the peer, bad TLS)
CONNECTION_ERRORS = (ConnectionError, http.client.HTTPException, socket.gaierror, ssl.SSLError)


class _Unreachable(Exception):
    """The connection could not be opened (refused, unknown host, connect timeout): always safe to retry."""


def _tls_context(settings: HttpSettings) -> ssl.SSLContext:
    """The TLS context of an ``https`` tracking URI (see :mod:`bakehouse.wire.tls` for what is trusted)."""
    verify = client_tls(settings)
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verification turned off (warned about by client_tls)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


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


@dataclass(frozen=True)
class Reply:
    """A whole HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def error_from_reply(method: str, path: str, reply: Reply) -> BakehouseError:
    """The exception a failed answer stands for (JSON error body if any, else the HTTP status)."""
    try:
        body = orjson.loads(reply.body) if reply.body else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        return error_from_code(str(body["error_code"]), str(body.get("message", "")))
    text = reply.body[:500].decode("utf-8", errors="replace")
    code = code_for_http_status(reply.status)
    return error_from_code(code.value, f"{method} {path} failed with HTTP {reply.status}: {text}")


def _dumps(body: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an integer beyond 64 bits: send it anyway, the server refuses it clearly
        import json

        return json.dumps(body, default=str).encode()


def _stale(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection the server has closed (readable at EOF) or that is gone."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)  # an idle HTTP/1.1 connection has nothing to read unless it was closed


class HttpTransport:
    """Talks to one server (``base_url`` = the tracking URI, e.g. ``http://host:5000/prefix``)."""

    def __init__(self, base_url: str, settings: HttpSettings | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings.from_env()
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise error_from_code("INVALID_PARAMETER_VALUE", f"Not an http(s) URL: {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        # set up once, ahead of the first call: the TLS context (reads the CA bundle) and fixed headers
        self._tls = _tls_context(self.settings) if self._https else None
        self._headers = self._fixed_headers()
        self._idle: list[http.client.HTTPConnection] = []
        self._idle_pid = os.getpid()
        self._lock = threading.Lock()

    def _fixed_headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"bakehouse/{_version}", "Accept-Encoding": "identity"}
        s = self.settings
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        elif s.username:
            pair = f"{s.username}:{s.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    # --------------------------------------------------------------------------------- connections
    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        connect_timeout = min(timeout, 10.0)
        conn: http.client.HTTPConnection
        if self._tls is not None:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=connect_timeout, context=self._tls
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=connect_timeout)
        conn.connect()
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _checkout(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """A connection (an idle one when there is one that is still open) and whether it was reused."""
        with self._lock:
            if self._idle_pid != os.getpid():  # after fork: the parent's sockets are not ours to use
                self._idle = []
                self._idle_pid = os.getpid()
            while self._idle:
                conn = self._idle.pop()
                if not _stale(conn):
                    return conn, True
                conn.close()
        return self._connect(timeout), False

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self._idle_pid == os.getpid() and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # ------------------------------------------------------------------------------------ requests
    def _sleep_before_retry(self, attempt: int, reply: Reply | None) -> None:
        delay = self.settings.backoff_factor * (2**attempt)
        if reply is not None:
            retry_after = reply.headers.get("retry-after")
            if retry_after and retry_after.isdigit():
                delay = max(delay, float(retry_after))
        delay = min(delay, MAX_BACKOFF_SECONDS) * (0.75 + random.random() / 2)
        time.sleep(delay)

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> Reply:
        """One request/answer on a pooled connection. A reused connection that turns out to be closed by
        the server before it answered is replaced by a fresh one once (the request never reached it)."""
        all_headers = {**self._headers, **headers}
        if body is not None:
            all_headers["Content-Length"] = str(len(body))
        for fresh_retry in (False, True):
            try:
                conn, reused = self._checkout(timeout)
            except (OSError, *CONNECTION_ERRORS) as exc:
                raise _Unreachable(str(exc)) from exc
            try:
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.request(method, target, body=body, headers=all_headers)
                response = conn.getresponse()
                data = response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                conn.close()
                if reused and not fresh_retry:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
            if response.will_close:
                conn.close()
            else:
                self._checkin(conn)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """One request with retries; raises the rebuilt BakehouseError for a non-2xx answer."""
        target = quote(self._prefix + path, safe="/:@!$&'()*+,;=-._~%")
        if params:
            target += "?" + urlencode(params)
        limit = timeout if timeout is not None else self.settings.timeout
        attempts = max(0, self.settings.max_retries) + 1
        last_exc: Exception | None = None
        for attempt in range(attempts):
            try:
                reply = self._exchange(method, target, content, headers or {}, limit)
            except TimeoutError as exc:  # the server took longer than the timeout to answer
                raise error_from_code(
                    "DEADLINE_EXCEEDED", f"{method} {self.base_url}{path} timed out after {limit}s"
                ) from exc
            except (_Unreachable, *CONNECTION_ERRORS) as exc:
                last_exc = exc
                if attempt + 1 < attempts:
                    logger.debug("%s %s failed (%s); retrying", method, path, exc)
                    self._sleep_before_retry(attempt, None)
                    continue
                raise error_from_code(
                    "TEMPORARILY_UNAVAILABLE",
                    f"Could not reach the tracking server at {self.base_url}: {exc}",
                ) from exc
            if reply.status in RETRY_STATUSES and attempt + 1 < attempts:
                self._sleep_before_retry(attempt, reply)
                continue
            if reply.status >= 400:
                raise error_from_reply(method, path, reply)
            return reply
        raise error_from_code("TEMPORARILY_UNAVAILABLE", f"Giving up on {method} {path}: {last_exc}")

    def call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """A JSON RPC: GET bodies go to the query string, others are sent as JSON. Returns the JSON answer."""
        if method == "GET":
            reply = self.request(method, path, params=encode_query(body), timeout=timeout)
        else:
            reply = self.request(
                method,
                path,
                content=_dumps(body or {}),
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
        if not reply.body:
            return {}
        result = orjson.loads(reply.body)
        return result if isinstance(result, dict) else {}


def quote_path(path: str) -> str:
    """Percent-encode an artifact path for a URL, keeping ``/`` separators."""
    return quote(path, safe="/")
