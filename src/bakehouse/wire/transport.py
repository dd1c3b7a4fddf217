"""The HTTP transport every REST store uses.

One keep-alive ``httpx.Client`` per process (re-created after ``fork``), a timeout on every call, retries as
:mod:`bakehouse.wire.retry` decides (what is safe to resend, for how long, saying so once), credentials from
:class:`bakehouse.settings.HttpSettings` (Basic or Bearer), and error bodies rebuilt into the exception
classes of :mod:`bakehouse.errors` so ``except NotFoundError`` works the same against a server.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote

import httpx
import orjson

from bakehouse.errors import BakehouseError, code_for_http_status, error_from_code
from bakehouse.settings import HttpSettings
from bakehouse.version import __version__ as _version
from bakehouse.wire.retry import CallRetry, RetryPolicy
from bakehouse.wire.tls import client_tls, plain_http_only

logger = logging.getLogger(__name__)


#: methods that are safe to send twice unless the caller says otherwise
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT"})


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


def error_from_response(response: httpx.Response) -> BakehouseError:
    """The exception a failed response stands for (JSON error body if any, else the HTTP status)."""
    try:
        body = orjson.loads(response.read())
    except (orjson.JSONDecodeError, httpx.ResponseNotRead, ValueError):
        body = None
    if isinstance(body, dict) and "error_code" in body:
        return error_from_code(str(body["error_code"]), str(body.get("message", "")))
    text = response.text[:500] if response.is_stream_consumed or not response.is_closed else ""
    code = code_for_http_status(response.status_code)
    return error_from_code(
        code.value,
        f"{response.request.method} {response.request.url.path} failed with HTTP {response.status_code}: {text}",
    )


def _dumps(body: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. an integer beyond 64 bits: send it anyway, the server refuses it clearly
        import json

        return json.dumps(body, default=str).encode()


class HttpTransport:
    """Talks to one server (``base_url`` = the tracking URI, e.g. ``http://host:5000/prefix``)."""

    def __init__(
        self,
        base_url: str,
        settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings.from_env()
        self._transport = transport  # tests and embedders may supply one (e.g. to go through a proxy)
        self._client: httpx.Client | None = None
        self._client_pid = -1
        self._lock = threading.Lock()
        self.retry_policy = RetryPolicy.from_settings(self.settings)

    # --------------------------------------------------------------------------------- connection
    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"bakehouse/{_version}"}
        s = self.settings
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        return headers

    @property
    def client(self) -> httpx.Client:
        if self._client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    s = self.settings
                    auth = (s.username, s.password or "") if (s.username and not s.token) else None
                    self._client = httpx.Client(
                        base_url=self.base_url,
                        headers=self._headers(),
                        auth=auth,
                        timeout=httpx.Timeout(s.timeout, connect=min(s.timeout, 10.0)),
                        # no redirects are followed, so only an https base URL ever needs the CA list
                        verify=client_tls(s) if self.base_url.startswith("https:") else plain_http_only(),
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                        follow_redirects=False,
                        trust_env=False,
                        transport=self._transport,
                    )
                    self._client_pid = os.getpid()
        return self._client

    def prepare(self) -> None:
        """Build the HTTP client now (httpcore's import, the TLS context, the pool), sending nothing.

        Done when a tracking URI is chosen, so the first call of a process costs what later ones do.
        """
        _ = self.client

    def close(self) -> None:
        if self._client is not None and self._client_pid == os.getpid():
            self._client.close()
        self._client = None

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
    ) -> httpx.Response:
        """One request, retried as :mod:`bakehouse.wire.retry` decides; raises the rebuilt BakehouseError for
        a non-2xx answer.

        ``idempotent``: whether sending the request twice is harmless (default: GET and PUT are). ``content``
        may be a zero-argument callable returning a fresh body (bytes, file or iterator), so a streamed upload
        can be retried from the start.
        """
        retry = CallRetry(
            self.retry_policy,
            self.base_url,
            f"{method} {path}",
            idempotent=method in SAFE_METHODS if idempotent is None else idempotent,
            label="the tracking server",
            timeout=timeout if timeout is not None else self.settings.timeout,
        )
        while True:
            body = content() if callable(content) else content
            request = self.client.build_request(
                method,
                path,
                params=tuple(params)
                if params is not None
                else None,  # a tuple: httpx types the list invariantly
                content=body,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
            try:
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                retry.after_error(exc)
                continue
            if retry.after_response(response):
                continue
            if response.status_code >= 400:
                if stream:
                    response.read()
                raise retry.annotate(error_from_response(response))
            return response

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
                headers={"Content-Type": "application/json"},
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


def decode_answer(content: bytes) -> dict[str, Any]:
    """A JSON answer's object (``{}`` for an empty body or anything but an object)."""
    if not content:
        return {}
    result = orjson.loads(content)
    return result if isinstance(result, dict) else {}


def quote_path(path: str) -> str:
    """Percent-encode an artifact path for a URL, keeping ``/`` separators."""
    return quote(path, safe="/")
