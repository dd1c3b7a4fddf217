"""BodyPump: a request body read from a (non-blocking) socket by a worker thread, over a real socket pair."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from starlette.requests import ClientDisconnect

from bakehouse.server.body_pump import BodyPump, declared_length


def _pair() -> tuple[socket.socket, socket.socket]:
    server_side, client_side = socket.socketpair()
    server_side.setblocking(False)  # as the event loop keeps it
    return server_side, client_side


def _fd_is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _send_later(sock: socket.socket, data: bytes, close: bool = True) -> threading.Thread:
    def send() -> None:
        sock.sendall(data)
        if close:
            sock.close()

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_pending_chunks_then_the_socket_in_order() -> None:
    server_side, client_side = _pair()
    body = os.urandom(3 * 1024 * 1024 + 17)
    fd = os.dup(server_side.fileno())
    pump = BodyPump([b"head-", b"er|"], fd, len(body))
    sender = _send_later(client_side, body)
    got = bytearray()
    assert pump.into(got.extend) == len(body) + 8
    sender.join()
    assert bytes(got) == b"head-er|" + body
    assert not _fd_is_open(fd)  # the duplicate is closed; the connection's own descriptor is not
    assert _fd_is_open(server_side.fileno())
    server_side.close()


def test_never_reads_past_the_declared_length() -> None:
    server_side, client_side = _pair()
    client_side.sendall(b"x" * 1000 + b"NEXT REQUEST")
    pump = BodyPump([], os.dup(server_side.fileno()), 1000)
    got = bytearray()
    pump.into(got.extend)
    assert bytes(got) == b"x" * 1000
    server_side.setblocking(True)
    assert server_side.recv(100) == b"NEXT REQUEST"  # left for the HTTP parser
    server_side.close()
    client_side.close()


def test_a_client_that_hangs_up_early_is_a_client_disconnect() -> None:
    server_side, client_side = _pair()
    fd = os.dup(server_side.fileno())
    pump = BodyPump([], fd, 10_000)
    _send_later(client_side, b"y" * 4000).join()
    with pytest.raises(ClientDisconnect, match="before sending the whole body"):
        pump.into(lambda data: None)
    assert not _fd_is_open(fd)
    server_side.close()


def test_a_client_that_stalls_times_out() -> None:
    server_side, client_side = _pair()
    pump = BodyPump([], os.dup(server_side.fileno()), 10_000, idle_timeout=0.2)
    client_side.sendall(b"z" * 10)
    with pytest.raises(ClientDisconnect, match="no request body received for 0.2 s"):
        pump.into(lambda data: None)
    server_side.close()
    client_side.close()


def test_a_failing_write_still_reads_the_body_then_raises() -> None:
    server_side, client_side = _pair()
    body = b"w" * (2 * 1024 * 1024)
    pump = BodyPump([b"a"], os.dup(server_side.fileno()), len(body))
    sender = _send_later(client_side, body + b"AFTER", close=False)

    def write(data: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        pump.into(write)
    sender.join()
    server_side.setblocking(True)
    assert server_side.recv(100) == b"AFTER"  # the whole body was consumed, nothing more
    server_side.close()
    client_side.close()


def test_discard_reads_and_drops_the_body_once() -> None:
    server_side, client_side = _pair()
    fd = os.dup(server_side.fileno())
    pump = BodyPump([b"p"], fd, 5000)
    _send_later(client_side, b"d" * 5000 + b"TAIL", close=False).join()
    pump.discard()
    assert not _fd_is_open(fd)
    server_side.setblocking(True)
    assert server_side.recv(100) == b"TAIL"
    with pytest.raises(RuntimeError, match="only once"):
        pump.into(lambda data: None)
    server_side.close()
    client_side.close()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"content-length", b"2048")], 2048),
        ([(b"content-length", b" 5 ")], 5),
        ([], None),
        ([(b"content-length", b"12"), (b"content-length", b"12")], None),
        ([(b"content-length", b"-1")], None),
        ([(b"content-length", b"1e9")], None),
        ([(b"content-length", b"10"), (b"transfer-encoding", b"chunked")], None),
        ([(b"transfer-encoding", b"chunked")], None),
    ],
)
def test_declared_length_only_for_one_plain_content_length(
    headers: list[tuple[bytes, bytes]], expected: int | None
) -> None:
    assert declared_length(headers) == expected
