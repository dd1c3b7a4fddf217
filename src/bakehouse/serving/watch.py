"""Continuous delivery from the registry: serve ``models:/name@alias`` and follow the alias.

A background thread re-resolves the alias (or stage, or ``latest``) every ``interval`` seconds. When it
points at another version, that version is downloaded, loaded and warmed up *off the request path*, then
swapped into the :class:`~bakehouse.serving.app.ModelHolder` with one reference assignment: requests already
running finish on the old model, new requests get the new one, none fails. A failed poll or a version that
does not load leaves the current version serving (and is logged). ``/version`` and the
``x-bakehouse-model-version`` response header name the version that answered.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from bakehouse import settings
from bakehouse.errors import InvalidParameterError
from bakehouse.serving.app import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT,
    ModelHolder,
    ServingStarted,
    create_scoring_app,
)
from bakehouse.serving.registry_versions import pinned_uri, registry_resolver
from bakehouse.serving.sampling import SamplingConfig, config_from_env, config_to_env

logger = logging.getLogger(__name__)

DEFAULT_WATCH_INTERVAL = 10.0
_ENV_URI = "SERVING_MODEL_URI"
_ENV_INTERVAL = "SERVING_WATCH_INTERVAL"
_ENV_ALLOW_PICKLE = "SERVING_ALLOW_PICKLE"
_ENV_TIMEOUT = "SCORING_SERVER_REQUEST_TIMEOUT"
_ENV_MAX_BODY = "SCORING_SERVER_MAX_BODY_BYTES"


def _default_loader(allow_pickle: bool | None) -> Callable[[str], Any]:
    """``(pinned models:/name/<version> URI) -> loaded, warmed-up model``."""
    from bakehouse.serving.server import load_for_serving

    def load(pinned_uri: str) -> Any:
        return load_for_serving(pinned_uri, allow_pickle).current.model

    return load


class RegistryWatcher:
    """Polls the registry and hot-swaps the served model when the alias moves."""

    def __init__(
        self,
        holder: ModelHolder,
        model_uri: str,
        interval: float = DEFAULT_WATCH_INTERVAL,
        resolver: Callable[[], str] | None = None,
        loader: Callable[[str], Any] | None = None,
        allow_pickle: bool | None = None,
    ) -> None:
        if interval <= 0:
            raise InvalidParameterError(f"The watch interval must be positive, got {interval}")
        self.holder = holder
        self.model_uri = model_uri
        self.interval = interval
        self._resolve = resolver or registry_resolver(model_uri)
        self._load = loader or _default_loader(allow_pickle)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.swaps = 0

    def check_once(self) -> bool:
        """One poll: True when a new version was loaded and swapped in."""
        try:
            version = self._resolve()
        except Exception as exc:  # noqa: BLE001 - the registry being down must not stop serving
            logger.warning(
                "Could not resolve %s (still serving version %s): %s",
                self.model_uri,
                self.holder.current.version,
                exc,
            )
            return False
        if version == self.holder.current.version:
            return False
        try:
            model = self._load(pinned_uri(self.model_uri, version))
        except Exception as exc:  # noqa: BLE001 - a broken new version must not replace a working one
            logger.error(
                "Version %s of %s failed to load; still serving version %s: %s",
                version,
                self.model_uri,
                self.holder.current.version,
                exc,
            )
            return False
        previous = self.holder.swap(model, version=version, uri=self.model_uri)
        self.swaps += 1
        logger.warning(
            "Now serving %s version %s (was version %s)", self.model_uri, version, previous.version
        )
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check_once()

    def start(self) -> RegistryWatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bakehouse-registry-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
            self._thread = None


def load_watched(model_uri: str, allow_pickle: bool | None = None) -> ModelHolder:
    """The first version: resolve, then load exactly that version (the alias may move meanwhile)."""
    version = registry_resolver(model_uri)()
    model = _default_loader(allow_pickle)(pinned_uri(model_uri, version))
    return ModelHolder(model, model_uri, version)


def create_watching_app(
    model_uri: str,
    interval: float = DEFAULT_WATCH_INTERVAL,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    allow_pickle: bool | None = None,
    sampling: SamplingConfig | None = None,
) -> Any:
    """A scoring app whose model follows ``model_uri``; the watcher runs for the app's lifetime."""
    import contextlib

    from bakehouse.serving.server import make_sampler

    holder = load_watched(model_uri, allow_pickle)
    app = create_scoring_app(
        holder, timeout=timeout, max_body_bytes=max_body_bytes, sampler=make_sampler(model_uri, sampling)
    )
    watcher = RegistryWatcher(holder, model_uri, interval, allow_pickle=allow_pickle)
    inner_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(scope_app: Any) -> Any:
        watcher.start()
        try:
            async with inner_lifespan(scope_app):
                yield
        finally:
            watcher.stop()

    app.router.lifespan_context = lifespan
    app.state.watcher = watcher
    return app


def app_from_env() -> Any:
    """uvicorn factory for ``--workers N --watch``: every worker watches on its own."""
    uri = settings.env(_ENV_URI)
    if not uri:
        raise InvalidParameterError(
            "BAKEHOUSE_SERVING_MODEL_URI is not set: start the server with 'bakehouse models serve'"
        )
    return create_watching_app(
        uri,
        settings.env_float(_ENV_INTERVAL, DEFAULT_WATCH_INTERVAL),
        timeout=settings.env_float(_ENV_TIMEOUT, DEFAULT_TIMEOUT),
        max_body_bytes=int(settings.env_float(_ENV_MAX_BODY, DEFAULT_MAX_BODY_BYTES)),
        allow_pickle=settings.env_flag(_ENV_ALLOW_PICKLE) or None,
        sampling=config_from_env(),
    )


def serve_watching(
    model_uri: str,
    *,
    interval: float = DEFAULT_WATCH_INTERVAL,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    timeout: float | None = None,
    max_body_bytes: int | None = None,
    allow_pickle: bool | None = None,
    log_level: str = "warning",
    sock: socket.socket | None = None,
    on_ready: Callable[[ServingStarted], None] | None = None,
    sampling: SamplingConfig | None = None,
) -> None:
    """``bakehouse models serve -m models:/name@alias --watch``: serve until interrupted, following the alias.

    ``sock`` and ``on_ready`` as in :func:`bakehouse.serving.server.serve`.
    """
    from bakehouse.serving.server import run_uvicorn

    timeout = timeout if timeout is not None else settings.env_float(_ENV_TIMEOUT, DEFAULT_TIMEOUT)
    max_body = (
        max_body_bytes
        if max_body_bytes is not None
        else int(settings.env_float(_ENV_MAX_BODY, DEFAULT_MAX_BODY_BYTES))
    )
    if workers > 1:
        os.environ["BAKEHOUSE_" + _ENV_URI] = model_uri
        os.environ["BAKEHOUSE_" + _ENV_INTERVAL] = str(interval)
        os.environ["BAKEHOUSE_" + _ENV_TIMEOUT] = str(timeout)
        os.environ["BAKEHOUSE_" + _ENV_MAX_BODY] = str(max_body)
        if allow_pickle:
            os.environ["BAKEHOUSE_" + _ENV_ALLOW_PICKLE] = "true"
        if sampling is not None:
            os.environ.update(config_to_env(sampling))
        started = ServingStarted(model_uri, registry_resolver(model_uri)(), workers, watching=True)
        run_uvicorn(
            "bakehouse.serving.watch:app_from_env", host, port, workers, log_level, sock, on_ready, started
        )
        return
    app = create_watching_app(
        model_uri,
        interval,
        timeout=timeout,
        max_body_bytes=max_body,
        allow_pickle=allow_pickle,
        sampling=sampling,
    )
    started = ServingStarted(model_uri, app.state.watcher.holder.current.version, 1, watching=True)
    run_uvicorn(app, host, port, 1, log_level, sock, on_ready, started)
