"""Which URLs a webhook may call: MLflow's rules, checked when a webhook is saved and again on every connect.

By default only ``https`` URLs whose host resolves to public addresses only; ``*_WEBHOOK_ALLOWED_SCHEMES``
(e.g. ``http,https``) and ``*_WEBHOOK_ALLOW_PRIVATE_IPS=true`` widen that. The save-time check resolves
the host name; :class:`CheckedNetworkBackend` resolves it again when the delivery connects, checks every
address, and connects to the checked address itself (TLS still verifies the certificate against the host
name), so a DNS answer that changes between the two checks (rebinding) reaches nothing private.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore

from bakehouse import settings
from bakehouse.errors import InvalidParameterError

RESOLVE_TIMEOUT = 5.0
MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TargetPolicy:
    allowed_schemes: tuple[str, ...] = ("https",)
    allow_private_ips: bool = False
    resolve_timeout: float = RESOLVE_TIMEOUT

    @classmethod
    def from_env(cls) -> TargetPolicy:
        return cls(settings.webhook_allowed_schemes(), settings.webhook_allow_private_ips())


class TargetRefusedError(InvalidParameterError):
    """The URL or the address it resolves to is not allowed."""


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or Teredo IPv6 address (those reach IPv4 hosts)."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None:
                return inner
    return ip


def is_public(ip: IPAddress) -> bool:
    return _embedded_ipv4(ip).is_global


_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bakehouse-webhook-dns")


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address ``host`` resolves to, within ``timeout`` seconds."""
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise TargetRefusedError(f"Resolving the webhook host {host!r} timed out") from None
    except (OSError, UnicodeError) as exc:
        raise TargetRefusedError(f"Cannot resolve the webhook URL hostname {host!r}: {exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _check_ip_literal(host: str) -> None:
    """``127.1`` or ``0177.0.0.1`` connect somewhere other than they look: only canonical literals pass."""
    if ":" in host or host.replace(".", "").isdigit():
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise TargetRefusedError(
                f"Webhook URL host {host!r} is not a canonical IP address literal."
            ) from None


def check_url(url: str, policy: TargetPolicy | None = None) -> None:
    """Refuse (400) a webhook URL that the policy does not allow; resolves the host name."""
    policy = policy or TargetPolicy.from_env()
    if not isinstance(url, str) or not url.strip():
        raise TargetRefusedError(f"Webhook URL cannot be empty or just whitespace: {url!r}")
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefusedError(f"Webhook URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefusedError(f"Invalid webhook URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in policy.allowed_schemes:
        raise TargetRefusedError(
            f"Invalid webhook URL scheme: {parts.scheme!r}. Allowed schemes are: "
            f"{', '.join(policy.allowed_schemes)} (widen with BAKEHOUSE_WEBHOOK_ALLOWED_SCHEMES)."
        )
    host = parts.hostname
    if not host:
        raise TargetRefusedError(f"Webhook URL must include a hostname: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError("Webhook URLs may not carry credentials; use the webhook secret instead.")
    _check_ip_literal(host)
    if policy.allow_private_ips:
        return
    default_port = 443 if parts.scheme.lower() == "https" else 80
    for address in resolve(host, port or default_port, policy.resolve_timeout):
        if not is_public(address):
            raise TargetRefusedError(
                f"Webhook URL must not resolve to a non-public IP address. {host!r} resolves to {address} "
                "(allow private targets with BAKEHOUSE_WEBHOOK_ALLOW_PRIVATE_IPS=true)."
            )


@dataclass
class CheckedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, resolving and checking the destination itself on every connect."""

    policy: TargetPolicy
    inner: httpcore.NetworkBackend = field(default_factory=httpcore.SyncBackend)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port, timeout or self.policy.resolve_timeout)
        if not self.policy.allow_private_ips:
            refused = [a for a in addresses if not is_public(a)]
            if refused:
                raise TargetRefusedError(
                    f"Webhook connection blocked: {host!r} resolves to {refused[0]}, which is not a public "
                    "IP address."
                )
        last: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host!r} resolves to no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise TargetRefusedError("Webhooks are delivered over TCP only")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
