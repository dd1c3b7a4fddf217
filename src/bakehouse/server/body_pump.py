"""A large request body read straight from the socket by a worker thread, for artifact uploads.

Through ASGI, uvicorn hands a body to the app chunk by chunk: each received chunk is copied, parsed, queued,
awaited on the event loop and passed to a thread that writes it. On a 2-core machine that is the ceiling of a
100 MB upload (about 1.2 GB/s here, half of what a plain socket-to-file copy reaches). For an upload none of
it is needed: the protocol pauses its own reading, and a worker thread reads the remaining ``Content-Length``
bytes from a duplicate of the socket into one reused buffer and writes them on, the shape of that plain copy.

The protocol (:mod:`bakehouse.server.runner`) offers this to the app as the ASGI scope extension
``bakehouse.body_pump`` on plain-HTTP requests that declare a ``Content-Length`` of at least
:data:`MIN_PUMPED_BODY`: a callable that, on the event loop and before the app has called ``receive()``,
returns a :class:`BodyPump` (or None when the body can no longer be taken, and the app reads it as usual).
The HTTP parser never sees the rest of such a body, so the connection closes after the response.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import ClientDisconnect

#: the ASGI scope extension's name
BODY_PUMP = "bakehouse.body_pump"
#: bodies smaller than this take uvicorn's usual path (it is as fast there, and keeps the connection)
MIN_PUMPED_BODY = 1024 * 1024
#: a client that sends nothing for this long is treated as gone
IDLE_TIMEOUT_S = 120.0
_BUFFER_BYTES = 1024 * 1024


class BodyPump:
    """The rest of one request's body: the chunks the parser already received, then ``remaining`` bytes
    still in the socket. Read once, from one worker thread (never the event loop: it blocks)."""

    def __init__(
        self, pending: Sequence[bytes], fd: int, remaining: int, idle_timeout: float = IDLE_TIMEOUT_S
    ) -> None:
        self._pending = list(pending)
        self._fd = fd  # our own duplicate, closed when done: the connection may be closed meanwhile
        self._remaining = remaining
        self._idle_timeout = idle_timeout
        self._used = False

    def into(self, write: Callable[[Any], object]) -> int:
        """Call ``write`` with every byte of the body, in order; returns the count.

        ``write`` gets memoryviews of a reused buffer and must consume them before returning (a file's
        ``write`` does). If it raises, the rest of the body is still read and dropped, so the client gets
        the error response instead of a reset connection, and the error is raised again. A client that
        hangs up or stalls longer than the idle timeout raises :class:`ClientDisconnect`.
        """
        if self._used:
            raise RuntimeError("A request body can be read only once")
        self._used = True
        total = 0
        try:
            try:
                for chunk in self._pending:
                    write(chunk)
                    total += len(chunk)
                self._pending = []
                total += self._read(write)
            except ClientDisconnect:
                raise
            except BaseException:
                try:
                    self._read(None)
                except ClientDisconnect:  # the client left meanwhile: the first error is the one to report
                    pass
                raise
        finally:
            self._close()
        return total

    def discard(self) -> None:
        """Read and drop the body (the request failed before it could be stored)."""
        if self._used:
            return
        self._used = True
        try:
            self._read(None)
        finally:
            self._close()

    def _read(self, write: Callable[[Any], object] | None) -> int:
        if self._remaining <= 0:
            return 0
        buffer = bytearray(min(_BUFFER_BYTES, self._remaining))
        view = memoryview(buffer)
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        total = 0
        while self._remaining > 0:
            try:
                n = os.readv(self._fd, [view[: min(len(buffer), self._remaining)]])
            except BlockingIOError:  # the socket is non-blocking (it is the event loop's): wait for data
                if not poller.poll(self._idle_timeout * 1000):
                    raise ClientDisconnect(f"no request body received for {self._idle_timeout:g} s") from None
                continue
            except OSError as exc:  # reset by the peer and the like
                raise ClientDisconnect(str(exc)) from exc
            if n == 0:
                raise ClientDisconnect("the client closed the connection before sending the whole body")
            self._remaining -= n
            total += n
            if write is not None:
                write(view[:n])
        return total

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def declared_length(headers: Sequence[tuple[bytes, bytes]]) -> int | None:
    """The body length a request declares, or None unless it is one plain ``Content-Length`` and no
    ``Transfer-Encoding`` (a chunked body has no length to read up to)."""
    lengths = [value for name, value in headers if name == b"content-length"]
    if len(lengths) != 1 or any(name == b"transfer-encoding" for name, _ in headers):
        return None
    value = lengths[0].strip()
    return int(value) if value.isdigit() else None
