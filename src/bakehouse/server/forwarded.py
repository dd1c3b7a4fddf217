"""Client addresses behind a reverse proxy: trust ``X-Forwarded-For``/``-Proto`` from named proxies only.

The client address keys the per-client rate limit and the login back-off. Behind a proxy every request
comes from the proxy's address, so unless the proxy is trusted (``--forwarded-allow-ips``) one client's
failed logins slow down everyone. Trusting every peer instead would let any client pick its own address by
sending the header. So the server trusts exactly the proxies it is told about, and says so in its log the
first time an untrusted peer sends forwarded headers (a proxy someone forgot to name).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

#: peers warned about per process: enough to name a misconfigured proxy, bounded against address floods
MAX_WARNED_PEERS = 16
MAX_REMEMBERED_PEERS = 4096
_FORWARDED_HEADERS = (b"x-forwarded-for", b"x-forwarded-proto", b"forwarded")


class ForwardedHeadersMiddleware:
    """Rewrites the client address and scheme from trusted proxies; warns once per untrusted one."""

    def __init__(self, app: ASGIApp, trusted: str) -> None:
        self.app = app
        self.proxy = ProxyHeadersMiddleware(app, trusted) if trusted.strip() else None  # type: ignore[arg-type]  # uvicorn types its app as its own ASGI3Application
        self._trust: dict[str, bool] = {}  # peer -> trusted (parsing addresses on every request is slow)
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def trusts(self, peer: str) -> bool:
        trusted = self._trust.get(peer)
        if trusted is None:
            trusted = self.proxy is not None and peer in self.proxy.trusted_hosts
            if len(self._trust) < MAX_REMEMBERED_PEERS:
                self._trust[peer] = trusted
        return trusted

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        client = scope.get("client")
        peer = client[0] if client else ""
        if peer and self.trusts(peer):
            await self.proxy(scope, receive, send)  # type: ignore[misc,arg-type]  # not None when trusted; uvicorn's own ASGI types
            return
        if (
            peer
            and scope["type"] == "http"
            and peer not in self._warned
            and any(name in _FORWARDED_HEADERS for name, _ in scope.get("headers", ()))
        ):
            self._warn(peer)
        await self.app(scope, receive, send)

    def _warn(self, peer: str) -> None:
        with self._lock:
            if peer in self._warned or len(self._warned) >= MAX_WARNED_PEERS:
                return
            self._warned.add(peer)
        logger.warning(
            "%s sent X-Forwarded-For/Forwarded headers but is not a trusted proxy, so they are ignored: every "
            "client behind it shares its address, and one client's failed logins or request rate slow down "
            "all of them. If %s is your reverse proxy, start the server with --forwarded-allow-ips %s "
            "(only the proxy's address, never '*' on a reachable port).",
            peer,
            peer,
            peer,
        )
