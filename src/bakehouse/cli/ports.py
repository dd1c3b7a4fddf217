"""The listening socket of ``bakehouse server``/``ui``/``models serve``, bound before anything slow happens.

Binding first means a busy port fails in a moment with one clear line, before a database is created or a
model is loaded, and the address printed afterwards is one that is really ours (port 0 shows the port the
kernel chose).
"""

from __future__ import annotations

import errno
import socket

from bakehouse.errors import InvalidParameterError


def bind_port(host: str, port: int) -> socket.socket:
    """A bound TCP socket on ``host:port`` (not listening yet: uvicorn does that); refuses a busy port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart may reuse a port in TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidParameterError(
                f"Port {port} on {host} is already in use (another server?); stop it or choose another "
                "with --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise InvalidParameterError(
                f"Not allowed to listen on port {port} (ports below 1024 need privileges); choose another "
                "with --port"
            ) from None
        raise InvalidParameterError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)  # worker processes share it
    return sock


def bound_url(sock: socket.socket, host: str, path: str = "/") -> str:
    """``http://host:port/path`` of a bound socket, as a user would type it."""
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"
