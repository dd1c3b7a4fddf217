"""Running the app on uvicorn, with one or several worker processes.

``TCP_NODELAY`` is set on every accepted connection by our own protocol class, whatever the worker count:
uvicorn's ``--workers`` mode hands pre-bound sockets to its children and loses the option there, and a
keep-alive client (the official one) then stalls ~40 ms per request on Linux's delayed ACKs. The same class
passes request bodies on without copying them (see :class:`_BodyChunks`) and offers large bodies to the app
straight from the socket (see :mod:`bakehouse.server.body_pump`), and sends a response's head with its
body in one write (see :mod:`bakehouse.server.head_with_body`).

Workers are forked from one process that bound the socket, so they share it (the kernel balances
``accept``); each worker builds its own app and database connections after the fork, and the parent
supervises them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from typing import Any, Self, cast

from bakehouse.server.config import ServerConfig
from bakehouse.server.metrics import forget_worker, server_metrics
from bakehouse.server.supervisor import WorkerSupervisor

logger = logging.getLogger(__name__)


class _BodyChunks:
    """Request body bytes as the list of chunks they arrived in, standing in for uvicorn's bytearray.

    uvicorn's protocol appends every received chunk to a bytearray (``cycle.body += chunk``) and hands the
    app ``bytes(cycle.body)``: two copies of every uploaded byte, half the server's CPU in a 100 MB upload.
    This object takes the same two operations without copying (one chunk, the usual case, is passed on as
    it is); ``receive()`` then resets ``cycle.body`` to a plain bytearray, and the next chunk puts a fresh
    one of these back.
    """

    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def __iadd__(self, chunk: bytes) -> Self:
        self.chunks.append(chunk)
        self.size += len(chunk)
        return self

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        if len(self.chunks) == 1:
            return self.chunks[0]
        return b"".join(self.chunks)


def _http_protocol() -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from bakehouse.server.body_pump import BODY_PUMP, MIN_PUMPED_BODY, BodyPump, declared_length
    from bakehouse.server.head_with_body import HeadWithBody

    class BakehouseHttpToolsProtocol(HttpToolsProtocol):
        _body_seen = 0  # body bytes the parser has passed on for the current request

        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:  # pragma: no cover - e.g. a socket type without the option
                    pass
            super().connection_made(transport)

        def on_headers_complete(self) -> None:
            self._body_seen = 0
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not None and cycle.scope is self.scope and cycle.transport is self.transport:
                # head and body in one write; it answers every call a transport gets (see the class)
                cycle.transport = cast(asyncio.Transport, HeadWithBody(self.transport, cycle))
            length = declared_length(self.headers)
            if (
                length is not None
                and length >= MIN_PUMPED_BODY
                and self.scheme == "http"
                and self.cycle is not None
                and self.cycle.scope is self.scope
            ):
                cycle = self.cycle
                extensions = self.scope.setdefault("extensions", {})
                # our own extension is a callable, where asgiref's types say every extension is a dict
                extensions[BODY_PUMP] = lambda: self._take_body(cycle, length)  # type: ignore[assignment]

        def on_body(self, body: bytes) -> None:
            self._body_seen += len(body)
            cycle = self.cycle
            if type(cycle.body) is bytearray and not cycle.body:  # nothing pending: collect without copies
                # uvicorn's bytearray swapped for a list of chunks with the same += and len()
                cycle.body = _BodyChunks()  # type: ignore[assignment]
            super().on_body(body)

        def _take_body(self, cycle: Any, length: int) -> BodyPump | None:
            """The rest of ``cycle``'s body as a :class:`BodyPump`, or None if it can no longer be taken
            (another request is being parsed, the app already read part of it, the client is gone)."""
            try:  # uvicorn's internals: a version that differs only loses this shortcut, never the body
                pending = cycle.body
                if (
                    cycle is not self.cycle
                    or self.pipeline
                    or cycle.disconnected
                    or cycle.response_started
                    or self.transport.is_closing()
                    or self._body_seen != len(pending)
                    or not hasattr(cycle, "waiting_for_100_continue")
                    or not hasattr(cycle, "keep_alive")
                ):
                    return None
            except AttributeError:
                return None
            sock = self.transport.get_extra_info("socket")
            remaining = length - self._body_seen if cycle.more_body else 0
            if remaining and sock is None:
                return None
            if cycle.waiting_for_100_continue:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                cycle.waiting_for_100_continue = False
            chunks = (
                pending.chunks if isinstance(pending, _BodyChunks) else ([bytes(pending)] if pending else [])
            )
            cycle.body = bytearray()
            fd = -1
            if remaining:
                self.flow.pause_reading()  # the rest is the pump's; the parser never sees it ...
                cycle.keep_alive = False  # ... so this connection ends with the response
                fd = os.dup(sock.fileno())
            cycle.more_body = False
            return BodyPump(chunks, fd, remaining)

    return BakehouseHttpToolsProtocol


def uvicorn_config(config: ServerConfig, app: Any = None) -> Any:
    import uvicorn

    from bakehouse.server.app import create_app

    target = app if app is not None else functools.partial(create_app, config)
    return uvicorn.Config(
        app=target,
        factory=app is None,
        host=config.host,
        port=config.port,
        http=_http_protocol(),
        loop="uvloop",
        ws="none",
        lifespan="off",
        log_level=config.log_level,
        access_log=config.log_level == "debug",
        server_header=False,
        date_header=True,
        timeout_keep_alive=30,
        backlog=2048,
        # Forwarded headers are the app's business (bakehouse.server.forwarded): it trusts only the proxies
        # named by --forwarded-allow-ips and warns about others.
        proxy_headers=False,
        timeout_graceful_shutdown=30,
    )


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, the app, its stores) out of the garbage collector's way.

    Answering a large request allocates enough objects to trigger full collections, and each one walked the
    few hundred thousand objects that imports leave behind: every third or fourth 1,000-run search page
    took twice as long (25 -> 50-80 ms). Frozen objects are never scanned (nor freed: they live as long
    as the process anyway)."""
    import gc

    gc.collect()
    gc.freeze()


def _worker(uconfig: Any, sock: socket.socket) -> None:
    import uvicorn

    uconfig.load()  # build this worker's app now, so that it is frozen with the rest
    freeze_startup_objects()
    uvicorn.Server(uconfig).run(sockets=[sock])


def serve(config: ServerConfig, app: Any = None, sock: socket.socket | None = None) -> None:
    """Serve until interrupted. ``app`` (already built, schema checked) is used when there is one worker;
    ``sock``, already bound to the configured address, is listened on instead of binding here.

    With several workers the parent forks them and supervises them (see :mod:`bakehouse.server.supervisor`);
    their metrics meet in one directory (see :mod:`bakehouse.server.metrics`), which the caller prepared
    before anything imported the metrics library."""
    import uvicorn

    if config.workers <= 1:
        uconfig = uvicorn_config(config, app)
        uconfig.load()
        freeze_startup_objects()
        uvicorn.Server(uconfig).run(sockets=[sock] if sock is not None else None)
        return
    uconfig = uvicorn_config(config)
    sock = sock if sock is not None else uconfig.bind_socket()
    restarts = server_metrics().worker_restarts

    def on_death(pid: int) -> None:
        forget_worker(pid)
        restarts.inc()

    try:
        WorkerSupervisor(config.workers, _worker, (uconfig, sock), on_death=on_death).run()
    finally:
        sock.close()
