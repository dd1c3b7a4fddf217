"""Everything a server process needs to know, in one picklable object (worker processes get a copy)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from bakehouse.settings import DEFAULT_ARTIFACTS_DIR, DEFAULT_DB_FILE
from bakehouse.uri import is_local_uri

PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"
DEFAULT_BACKEND_STORE_URI = f"sqlite:///./{DEFAULT_DB_FILE}"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


def absolute_local_uri(uri: str) -> str:
    """Make a relative SQLite path or local directory absolute, so every worker agrees on it."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////") and ":memory:" not in uri:
        return "sqlite:///" + str((Path.cwd() / uri[len("sqlite:///") :]).resolve())
    return uri


@dataclass
class ServerConfig:
    backend_store_uri: str = DEFAULT_BACKEND_STORE_URI
    registry_store_uri: str | None = None
    default_artifact_root: str | None = None
    serve_artifacts: bool = True
    artifacts_destination: str = f"./{DEFAULT_ARTIFACTS_DIR}"
    artifacts_only: bool = False
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    allowed_hosts: list[str] = field(default_factory=list)
    cors_allowed_origins: list[str] = field(default_factory=list)
    static_prefix: str = ""
    x_frame_options: str = "SAMEORIGIN"
    disable_security_middleware: bool = False
    #: upper bound for JSON request bodies (artifact uploads are streamed and not bounded by this)
    max_json_body_bytes: int = 32 * 1024 * 1024
    #: auth app name (``basic-auth``) or None; the auth layer plugs in through ``create_app``'s hooks
    app_name: str | None = None
    serve_ui: bool = True
    log_level: str = "info"
    #: with authentication: the permission users have on resources without an explicit grant; None keeps the
    #: database's value (``bakehouse permissions default``), a level given here is written there at start
    auth_default_permission: str | None = None
    #: with authentication: requests per second per client address (bursts of twice that); 0 turns it off
    rate_limit_per_second: float = 1000.0
    #: with authentication: failed logins per client address (over all user names) before the back-off
    login_failures_per_address: int = 100
    #: proxies whose X-Forwarded-For / X-Forwarded-Proto headers are trusted (comma-separated, "*" = all)
    forwarded_allow_ips: str = ""
    #: hex key signing browser sessions, made by the parent process and handed to its workers when
    #: BAKEHOUSE_SECRET_KEY is not set (never printed)
    session_secret: str = field(default="", repr=False)
    #: run a webhook dispatcher in this process (``bakehouse server`` does; apps built in tests do not)
    deliver_webhooks: bool = False

    def normalized(self) -> ServerConfig:
        """Absolute local paths, a clean prefix: what every worker process must agree on."""
        prefix = self.static_prefix.strip()
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        destination = self.artifacts_destination
        if is_local_uri(destination) and not destination.startswith("file:"):
            destination = str(Path(destination).expanduser().resolve())
        root = self.default_artifact_root
        if root is not None and is_local_uri(root) and not root.startswith("file:"):
            root = str(Path(root).expanduser().resolve())
        return ServerConfig(
            **{
                **self.__dict__,
                "backend_store_uri": absolute_local_uri(self.backend_store_uri),
                "registry_store_uri": absolute_local_uri(self.registry_store_uri)
                if self.registry_store_uri
                else None,
                "static_prefix": prefix.rstrip("/"),
                "artifacts_destination": destination,
                "default_artifact_root": root,
            }
        )

    @property
    def effective_artifact_root(self) -> str:
        """Where new experiments put their artifacts (what the tracking store gets as its default root)."""
        if self.default_artifact_root:
            return self.default_artifact_root
        if self.serve_artifacts:
            return PROXY_ARTIFACT_ROOT
        return self.artifacts_destination

    @property
    def effective_registry_uri(self) -> str:
        return self.registry_store_uri or self.backend_store_uri

    def host_allowed(self, host_header: str) -> bool:
        """The DNS-rebinding guard: is this Host header one we answer to?"""
        patterns = list(self.allowed_hosts)
        if "*" in patterns:
            return True
        host = _strip_port(host_header.strip().lower())
        if not host:
            return False
        if host in LOOPBACK_HOSTS:
            return True
        if self.host not in ("0.0.0.0", "::", "") and host == self.host.lower():
            return True
        for pattern in patterns:
            pattern = (
                _strip_port(pattern.strip().lower())
                if ":" in pattern and not pattern.startswith("[")
                else pattern.lower()
            )
            if pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:])):
                return True
            if pattern == host_header.strip().lower():
                return True
        # an IP literal cannot be a rebinding attack (the attack needs a domain the attacker controls);
        # private and loopback literals are what a LAN deployment is reached by
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return address.is_private or address.is_loopback


def _strip_port(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host
