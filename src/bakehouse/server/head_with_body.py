"""A response's status line and headers leave with its body, in one write.

uvicorn writes a response's head as soon as the app starts it, and the body in a second write. On a
connection with ``TCP_NODELAY`` these are two TCP segments: the client is woken for the head, reads it,
waits again and is woken again for the body. On a busy machine every wake-up waits for a CPU, and for
short answers (a trace's spans stored, a search page) that waiting is most of the time the client sees.

:class:`HeadWithBody` stands in for the connection's transport in one request's cycle. When the head
it is given is that of a response whose length is declared (``Content-Length``: the body follows at once),
it keeps the head and writes it together with the first body bytes. Streamed (chunked) responses and
answers to HEAD are written as before. Anything that ends the response early (the transport closed)
writes the kept head first, so the client gets exactly the bytes it got before.
"""

from __future__ import annotations

from typing import Any


class HeadWithBody:
    """The transport of one request/response cycle of uvicorn's HTTP protocol (see the module doc)."""

    __slots__ = ("_cycle", "_head", "_head_seen", "_transport")

    def __init__(self, transport: Any, cycle: Any) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._head_seen and self._cycle.response_started:
            # uvicorn marks the response started, then writes its head: this is that write
            self._head_seen = True
            if self._cycle.chunked_encoding is False and self._cycle.scope.get("method") != "HEAD":
                self._head = bytes(data)
                return
        self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading...
        return getattr(self._transport, name)
