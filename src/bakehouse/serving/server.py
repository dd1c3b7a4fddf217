"""Run the scoring app under uvicorn, with ``TCP_NODELAY`` on every connection whatever the worker count.

uvicorn with ``--workers N`` hands a pre-bound socket to its worker processes and the accepted
connections lose ``TCP_NODELAY`` (uvicorn #3149): every keep-alive request after the first then waits
~40 ms for a delayed ACK. Our protocol class sets the option itself in ``connection_made``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bakehouse import settings
from bakehouse.errors import InvalidParameterError
from bakehouse.serving.app import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT,
    ModelHolder,
    ServingStarted,
    create_scoring_app,
)

if TYPE_CHECKING:
    from bakehouse.serving.sampling import RequestSampler, SamplingConfig

logger = logging.getLogger(__name__)

_ENV_URI = "SERVING_MODEL_URI"
_ENV_TIMEOUT = "SCORING_SERVER_REQUEST_TIMEOUT"
_ENV_MAX_BODY = "SCORING_SERVER_MAX_BODY_BYTES"
_ENV_ALLOW_PICKLE = "SERVING_ALLOW_PICKLE"


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus ``TCP_NODELAY`` on the accepted socket."""

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not a TCP socket (unix socket): nothing to do
                pass
        super().connection_made(transport)


def _import_skops_without_estimator_scan() -> None:
    """Import skops.io without its import-time walk over every scikit-learn estimator module.

    skops builds its default trusted-type list by importing all of scikit-learn (~300 modules, a large part
    of a cold start). Our loader never relies on that list (scikit-learn types are trusted by module, see
    :mod:`bakehouse.models.trust`), so in this serving-only process we let skops see an empty list.
    """
    if "skops.io" in sys.modules:
        return
    # an explicit check, not an ImportError caught: without both libraries there is nothing to speed up,
    # and an error raised while importing them must surface
    if importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("skops") is None:
        return
    import sklearn.utils

    original = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = lambda *args, **kwargs: []
    # skops also imports ``sklearn.ensemble`` (for ``_BinMapper``, one of the internal types it trusts by
    # default): we let it. Refusing that import saved ~0.1-0.2 s but silently dropped the type from skops'
    # defaults for the rest of the process, and it changed the import system for every thread meanwhile
    # (a registry watch reloads models while requests are served).
    try:
        import skops.io  # noqa: F401 - imported for its side effect on sys.modules
    finally:
        sklearn.utils.all_estimators = original


def _uses_skops(model_dir: str) -> bool:
    from bakehouse.models.mlmodel import Model

    return Model.load(model_dir).flavors.get("sklearn", {}).get("serialization_format") == "skops"


def _pinned_version(model_uri: str) -> str | None:
    """``models:/iris/3`` -> ``"3"``; other URIs name no registry version by themselves."""
    if not model_uri.startswith("models:/"):
        return None
    from bakehouse.store.registry.uri import parse_models_uri

    try:
        return parse_models_uri(model_uri).version
    except Exception:  # noqa: BLE001 - a URI we cannot parse here is reported by the loader instead
        return None


def load_for_serving(model_uri: str, allow_pickle: bool | None = None) -> ModelHolder:
    """Load the model and warm it up with its serving example so the first request is fast."""
    from bakehouse.models.example import load_serving_example
    from bakehouse.models.uri import download_model
    from bakehouse.pyfunc import load_model_from_dir
    from bakehouse.serving.app import predict_body

    version = _registry_version(model_uri)
    if version is not None and model_uri.startswith("models:/") and _pinned_version(model_uri) is None:
        from bakehouse.serving.registry_versions import pinned_uri

        model_dir = download_model(pinned_uri(model_uri, version))  # exactly the version just resolved
    else:
        model_dir = download_model(model_uri)
    if _uses_skops(model_dir):
        _import_skops_without_estimator_scan()
    model = load_model_from_dir(model_dir, allow_pickle=allow_pickle)
    impl = getattr(model, "_model_impl", None)
    if impl is not None and hasattr(impl, "numpy_fast_path"):
        # this process only serves: the array fast path is safe, and sklearn's warning about it is noise
        warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)
        impl.numpy_fast_path = True
    prepare = getattr(impl, "prepare_for_serving", None)
    if prepare is not None:  # e.g. one-thread copies for small batches (models.flavors.small_batches)
        prepare()
    holder = ModelHolder(model, model_uri, version)
    example = load_serving_example(model_dir)
    if example is not None:
        try:  # both the general and the fast path, so lazy imports happen before the first request
            predict_body(model, example, "application/json")
            predict_body(model, example, "application/json", holder.current.fast)
        except Exception as e:  # noqa: BLE001 - a broken example must not stop the server
            logger.warning("Warm-up with serving_input_example.json failed: %s", e)
    return holder


def app_from_env() -> Any:
    """uvicorn factory for multi-worker mode: each worker loads the model named in the environment."""
    uri = settings.env(_ENV_URI)
    if not uri:
        raise InvalidParameterError(
            "BAKEHOUSE_SERVING_MODEL_URI is not set: start the server with 'bakehouse models serve'"
        )
    # pandas (through the sampler) only when --sample-inputs asked for it: it is a large part of a cold start
    from bakehouse.serving.sampling import config_from_env

    holder = load_for_serving(uri, settings.env_flag(_ENV_ALLOW_PICKLE) or None)
    return create_scoring_app(
        holder,
        timeout=settings.env_float(_ENV_TIMEOUT, DEFAULT_TIMEOUT),
        max_body_bytes=int(settings.env_float(_ENV_MAX_BODY, DEFAULT_MAX_BODY_BYTES)),
        sampler=make_sampler(uri, config_from_env()),
    )


def make_sampler(model_uri: str, config: SamplingConfig | None) -> RequestSampler | None:
    """The request sampler of ``--sample-inputs`` (None without it)."""
    if config is None:
        return None
    # pandas (through the sampler) only when --sample-inputs asked for it: it is a large part of a cold start
    from bakehouse.serving.sampling import RequestSampler

    return RequestSampler(config, model_uri)


def serve(
    model_uri: str,
    *,
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
    """Serve ``model_uri`` until interrupted.

    ``sock``: a socket already bound to ``host:port`` (the CLI binds first, so a busy port fails before the
    model loads). ``on_ready`` is called once the model is loaded, just before requests are accepted.
    """
    timeout = timeout if timeout is not None else settings.env_float(_ENV_TIMEOUT, DEFAULT_TIMEOUT)
    max_body = (
        max_body_bytes
        if max_body_bytes is not None
        else int(settings.env_float(_ENV_MAX_BODY, DEFAULT_MAX_BODY_BYTES))
    )
    if workers > 1:
        # the workers are new processes: they learn the model through the environment
        os.environ["BAKEHOUSE_" + _ENV_URI] = model_uri
        os.environ["BAKEHOUSE_" + _ENV_TIMEOUT] = str(timeout)
        os.environ["BAKEHOUSE_" + _ENV_MAX_BODY] = str(max_body)
        if allow_pickle:
            os.environ["BAKEHOUSE_" + _ENV_ALLOW_PICKLE] = "true"
        if sampling is not None:
            from bakehouse.serving.sampling import config_to_env  # pandas: see make_sampler

            os.environ.update(config_to_env(sampling))
        started = ServingStarted(model_uri, _registry_version(model_uri), workers)
        run_uvicorn(
            "bakehouse.serving.server:app_from_env", host, port, workers, log_level, sock, on_ready, started
        )
        return
    holder = load_for_serving(model_uri, allow_pickle)
    app = create_scoring_app(
        holder, timeout=timeout, max_body_bytes=max_body, sampler=make_sampler(model_uri, sampling)
    )
    started = ServingStarted(model_uri, holder.current.version, 1)
    run_uvicorn(app, host, port, 1, log_level, sock, on_ready, started)


def run_uvicorn(
    app: Any,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    sock: socket.socket | None,
    on_ready: Callable[[ServingStarted], None] | None,
    started: ServingStarted,
) -> None:
    """uvicorn with our protocol class; one worker listens on ``sock`` when given. ``app`` is an app, or the
    ``"module:factory"`` every worker process calls when ``workers > 1``."""
    import uvicorn

    common: dict[str, Any] = {
        "log_level": log_level,
        "access_log": False,
        "server_header": False,
        "timeout_keep_alive": 30,
    }
    if workers > 1:
        if sock is not None:
            # uvicorn's worker supervisor binds its own socket: the CLI's only checked that the port was free
            sock.close()
        if on_ready is not None:
            on_ready(started)
        uvicorn.run(
            app,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            http="bakehouse.serving.server:NoDelayHttpToolsProtocol",
            **common,
        )
        return
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", http=NoDelayHttpToolsProtocol, **common)

    class AnnouncingServer(uvicorn.Server):
        """Says it is up once it accepts connections (a URL printed earlier could be refused)."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_ready is not None:
                on_ready(started)

    AnnouncingServer(config).run(sockets=[sock] if sock is not None else None)


def _registry_version(model_uri: str) -> str | None:
    """The registry version a ``models:/`` URI points at now (None for runs:/, paths, model ids)."""
    from bakehouse.serving.registry_versions import is_watchable, registry_resolver

    if model_uri.startswith("models:/") and is_watchable(model_uri):
        return registry_resolver(model_uri)()
    return _pinned_version(model_uri)
