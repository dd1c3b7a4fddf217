"""HeadWithBody: a response's head leaves with its body in one write, driven by uvicorn's own request cycle.

The transport below records what the cycle writes (it stands for the socket's transport); the cycle is
uvicorn's ``RequestResponseCycle``, so the test follows the order in which uvicorn really writes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from bakehouse.server.head_with_body import HeadWithBody


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def _cycle(method: str = "POST") -> tuple[RequestResponseCycle, RecordingTransport]:
    transport = RecordingTransport()
    socket_transport: Any = transport  # stands for asyncio.Transport (duck-typed)
    scope: Any = {"type": "http", "method": method, "path": "/", "query_string": b"", "http_version": "1.1"}
    cycle = RequestResponseCycle(
        scope=scope,
        transport=socket_transport,
        flow=FlowControl(socket_transport),
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=True,
        on_response=lambda: None,
    )
    head_with_body: Any = HeadWithBody(transport, cycle)  # uvicorn types the attribute as asyncio.Transport
    cycle.transport = head_with_body
    return cycle, transport


def _start(length: int | None) -> Any:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": 200, "headers": headers}


def test_a_response_with_a_length_is_one_write() -> None:
    async def go() -> None:
        cycle, transport = _cycle()
        await cycle.send(_start(11))
        assert transport.writes == []  # the head waits for its body
        await cycle.send({"type": "http.response.body", "body": b'{"ok":true}'})
        assert len(transport.writes) == 1
        head, body = transport.writes[0].split(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 11" in head
        assert body == b'{"ok":true}'

    asyncio.run(go())


def test_streamed_responses_and_head_requests_write_the_head_at_once() -> None:
    async def go() -> None:
        cycle, transport = _cycle()
        await cycle.send(_start(None))  # chunked: the body may come much later
        assert len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200 OK")
        await cycle.send({"type": "http.response.body", "body": b"part", "more_body": True})
        await cycle.send({"type": "http.response.body", "body": b""})
        assert transport.writes[1:] == [b"4\r\npart\r\n", b"0\r\n\r\n"]

        cycle, transport = _cycle("HEAD")
        await cycle.send(_start(11))  # no body will follow
        assert len(transport.writes) == 1 and b"content-length: 11" in transport.writes[0]

    asyncio.run(go())


def test_a_response_cut_short_still_sends_its_head() -> None:
    async def go() -> None:
        cycle, transport = _cycle()
        await cycle.send(_start(11))
        cycle.transport.close()  # what uvicorn does when the app fails after starting the response
        assert transport.closed and len(transport.writes) == 1
        assert transport.writes[0].startswith(b"HTTP/1.1 200 OK")

    asyncio.run(go())
