"""Artifact downloads read straight into files with ``http.client``, beside the repository's httpx client.

httpx parses its HTTP/1.1 responses with h11 in 64 KB reads and copies every body byte about three times on the
way (socket, parser buffer, chunk), which caps a download near 1.3 GB/s on this kind of machine; ``http.client``
reads a body into the caller's buffer directly (``readinto``), as fast as a plain socket copy. Only the simple
case is taken here: a ``200`` answer, no proxy in the way, no credentials in the URL. Anything else (redirects,
error answers, connection failures) returns None and the caller goes through its httpx client, which owns
retries, redirects and error bodies.
"""

from __future__ import annotations

import base64
import http.client
import os
import ssl
import threading
import urllib.request
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlsplit

_BUFFER_BYTES = 1024 * 1024
_STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def auth_header(token: str | None, username: str | None, password: str | None) -> dict[str, str]:
    """The Authorization header for these settings, as the tracking client sends it (a token wins; a user
    name without a password is sent with an empty one)."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    if username:
        pair = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
        return {"Authorization": f"Basic {pair}"}
    return {}


def _proxied(scheme: str, host: str) -> bool:
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    # CPython's urllib.request has it (proxy_bypass is it, off macOS and Windows); typeshed leaves it out
    return not urllib.request.proxy_bypass_environment(host)  # type: ignore[attr-defined]


class DirectDownloader:
    """GET a URL into a file with one ``readinto`` per MiB, on a keep-alive connection per thread."""

    def __init__(self, headers: dict[str, str], tls: ssl.SSLContext | bool, timeout: float) -> None:
        self._headers = {"Accept-Encoding": "identity", **headers}
        if tls is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._tls: ssl.SSLContext | None = context
        else:
            self._tls = tls if isinstance(tls, ssl.SSLContext) else None
        self._timeout = timeout
        self._local = threading.local()

    def download(
        self, url: str, out: BinaryIO, progress: Callable[[int, int | None], None] | None = None
    ) -> int | None:
        """Write the body at ``url`` to ``out``; the byte count, or None if this path does not apply (the
        caller then downloads another way; nothing was written). A body cut short raises OSError."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.username or parts.password or not parts.hostname:
            return None
        if parts.scheme == "https" and self._tls is None:
            return None
        if _proxied(parts.scheme, parts.hostname):
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self._get(parts.scheme, parts.netloc, target)
        if response is None:
            return None
        if response.status != 200:
            self._drop()
            return None
        length_header = response.getheader("Content-Length")
        total = int(length_header) if length_header and length_header.isdigit() else None
        if progress is not None:
            progress(0, total)
        buffer = bytearray(_BUFFER_BYTES)
        view = memoryview(buffer)
        got = 0
        try:
            while n := response.readinto(buffer):
                out.write(view[:n])
                got += n
                if progress is not None:
                    progress(n, total)
        except BaseException:
            self._drop()
            raise
        if total is not None and got != total:
            self._drop()
            raise OSError(f"the server sent {got} of {total} bytes")
        if response.will_close:
            self._drop()
        return got

    def _get(self, scheme: str, netloc: str, target: str) -> http.client.HTTPResponse | None:
        for attempt in range(2):  # a kept-alive connection the server has since closed gets one fresh retry
            connection = self._connection(scheme, netloc)
            try:
                connection.request("GET", target, headers=self._headers)
                return connection.getresponse()
            except _STALE_CONNECTION_ERRORS:
                self._drop()
                if attempt:
                    return None
            except (OSError, http.client.HTTPException):
                self._drop()
                return None
        return None

    def _cached(self) -> tuple[tuple[str, str, int], http.client.HTTPConnection] | None:
        """This thread's kept-alive connection, with the (scheme, netloc, pid) it was opened for."""
        cached: tuple[tuple[str, str, int], http.client.HTTPConnection] | None = getattr(
            self._local, "connection", None
        )
        return cached

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        key = (scheme, netloc, os.getpid())  # a forked child must not talk on its parent's socket
        cached = self._cached()
        if cached is not None and cached[0] == key:
            return cached[1]
        if cached is not None and cached[0][2] != key[2]:
            self._local.connection = None  # the parent's: left to the parent (closing our copy is GC's job)
        self._drop()
        if scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                netloc, timeout=self._timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(netloc, timeout=self._timeout)
        self._local.connection = (key, connection)
        return connection

    def _drop(self) -> None:
        cached = self._cached()
        if cached is not None:
            cached[1].close()
            self._local.connection = None

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._drop()
