"""The scoring server: a small Starlette app with ``/ping``, ``/health``, ``/version``, ``/invocations``.

The loaded model lives in a :class:`ModelHolder`; ``swap`` replaces model and version in one assignment,
so a watcher can hot-swap versions while requests are in flight (each request reads the holder once).
Prediction runs in a thread so a per-request timeout can answer 504; bodies over the limit get 413. Small
requests to a model that has answered them quickly many times in a row are predicted on the event loop
instead (see :class:`InlinePolicy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakehouse.errors import BadRequestError, BakehouseError
from bakehouse.models.enforcement import SchemaEnforcementError
from bakehouse.models.payload import (
    JSON_TYPES,
    UnsupportedMediaType,
    decode_json,
    encode_predictions,
    media_type,
    parse_json_payload,
    parse_request,
)
from bakehouse.serving.fastpath import FastPath, fast_path_for
from bakehouse.version import __version__

if TYPE_CHECKING:
    from bakehouse.serving.sampling import RequestSampler

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
MODEL_HEADER = "x-bakehouse-model"
VERSION_HEADER = "x-bakehouse-model-version"
_JSON = "application/json"
#: bodies up to this size may be predicted on the event loop (one row is ~100 bytes)
INLINE_MAX_BODY_BYTES = 8 * 1024
#: ... when the model's last INLINE_AFTER_FAST small requests each took at most this long
INLINE_MAX_SECONDS = 0.005
INLINE_AFTER_FAST = 20


class InlinePolicy:
    """Whether a small request skips the worker thread and is predicted on the event loop.

    For a model that answers a row in microseconds (ONNX, trees), the hop to a worker thread and back - two
    thread wake-ups, each waiting for a core on a busy machine - costs more than the prediction. Once
    :data:`INLINE_AFTER_FAST` small requests in a row took at most :data:`INLINE_MAX_SECONDS`, small requests
    run inline; one slower prediction sends them back to the thread until the streak is rebuilt. An inline
    prediction cannot be cut off by the request timeout (one that overruns it still answers 504, when it
    ends), which is why only models proven fast, and only small bodies, qualify. The
    counters are updated without a lock: a lost update only delays or advances the switch by a request.
    """

    def __init__(self) -> None:
        self._streak = 0

    def inline(self, body_size: int) -> bool:
        return body_size <= INLINE_MAX_BODY_BYTES and self._streak >= INLINE_AFTER_FAST

    def record(self, body_size: int, seconds: float) -> None:
        if body_size <= INLINE_MAX_BODY_BYTES:
            self._streak = self._streak + 1 if seconds <= INLINE_MAX_SECONDS else 0


@dataclass(frozen=True, slots=True)
class LoadedModel:
    model: Any
    uri: str
    version: str | None = None
    fast: FastPath | None = None
    policy: InlinePolicy = field(default_factory=InlinePolicy)

    @property
    def label(self) -> str:
        return self.uri if self.version is None else f"{self.uri} (version {self.version})"


@dataclass(frozen=True)
class ServingStarted:
    """What a scoring server serves, for the line the CLI prints when it comes up."""

    model_uri: str
    #: the registry version being served (None for runs:/ URIs, paths and model ids)
    version: str | None
    workers: int
    watching: bool = False


class ModelHolder:
    """The model being served; ``swap`` is atomic (one reference assignment under a lock)."""

    def __init__(self, model: Any, uri: str, version: str | None = None) -> None:
        self._current = LoadedModel(model, uri, version, fast_path_for(model))
        self._lock = threading.Lock()

    @property
    def current(self) -> LoadedModel:
        return self._current

    def swap(self, new_model: Any, version: str | None = None, uri: str | None = None) -> LoadedModel:
        with self._lock:
            previous = self._current
            self._current = LoadedModel(new_model, uri or previous.uri, version, fast_path_for(new_model))
            return previous


def _error(status: int, message: str, code: str = "BAD_REQUEST") -> Response:
    import orjson

    return Response(orjson.dumps({"error_code": code, "message": message}), status, media_type=_JSON)


def _signature_inputs(model: Any) -> Any:
    signature = getattr(getattr(model, "metadata", None), "signature", None)
    return signature.inputs if signature is not None else None


def predict_body(
    model: Any,
    body: bytes,
    content_type: str | None,
    fast: FastPath | None = None,
    sample: Callable[[Any], None] | None = None,
) -> bytes:
    """Parse, predict and encode one request (synchronous: runs in the worker thread). ``sample`` receives
    the model input (after schema enforcement) of a request that was answered."""
    kind = media_type(content_type)
    schema = _signature_inputs(model)
    if kind in JSON_TYPES:
        payload = decode_json(body)
        if fast is not None and sample is None:
            result = fast.try_predict(payload, body)
            if result is not None:
                return encode_predictions(result)
        parsed = parse_json_payload(payload, schema)
    else:
        parsed = parse_request(body, content_type, schema)
    predictions = model.predict(parsed.data, parsed.params)
    if sample is not None:
        prepare = getattr(model, "prepare_input", None)
        sample(prepare(parsed.data) if prepare is not None else parsed.data)
    return encode_predictions(predictions, unwrapped=parsed.unwrapped)


def create_scoring_app(
    holder: ModelHolder,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    threads: int = 4,
    sampler: RequestSampler | None = None,
) -> Starlette:
    """The scoring app; with a ``sampler``, a share of the answered requests' inputs is recorded."""
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bakehouse-predict")

    def headers(loaded: LoadedModel) -> dict[str, str]:
        out = {MODEL_HEADER: loaded.uri}
        if loaded.version is not None:
            out[VERSION_HEADER] = loaded.version
        return out

    async def ping(request: Request) -> Response:
        return Response("\n", 200, media_type="application/json", headers=headers(holder.current))

    async def version(request: Request) -> Response:
        import orjson

        loaded = holder.current
        body = {
            "version": __version__,
            "model_uri": loaded.uri,
            "model_version": loaded.version,
            "model_id": getattr(loaded.model, "model_id", None),
        }
        return Response(orjson.dumps(body), 200, media_type=_JSON, headers=headers(loaded))

    async def invocations(request: Request) -> Response:
        loaded = holder.current
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return _error(
                413,
                f"Request body is larger than the limit of {max_body_bytes} bytes",
                "REQUEST_LIMIT_EXCEEDED",
            )
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                return _error(
                    413,
                    f"Request body is larger than the limit of {max_body_bytes} bytes",
                    "REQUEST_LIMIT_EXCEEDED",
                )
            chunks.append(chunk)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        content_type = request.headers.get("content-type")
        sample = None
        if sampler is not None and sampler.wants():
            version = loaded.version

            def sample(data: Any) -> None:
                sampler.offer(data, version)

        policy = loaded.policy

        def timed_predict() -> bytes:
            start = time.perf_counter()
            try:
                return predict_body(loaded.model, body, content_type, loaded.fast, sample)
            finally:
                policy.record(len(body), time.perf_counter() - start)

        try:
            if policy.inline(len(body)):
                start = time.perf_counter()
                payload = timed_predict()
                if time.perf_counter() - start > timeout:  # it could not be cut off: still answer 504
                    raise TimeoutError
            else:
                payload = await asyncio.wait_for(
                    asyncio.get_running_loop().run_in_executor(executor, timed_predict), timeout
                )
        except TimeoutError:
            return _error(504, f"Prediction timed out after {timeout:g} s", "DEADLINE_EXCEEDED")
        except UnsupportedMediaType as e:
            return Response(str(e), 415, media_type="text/plain")
        except SchemaEnforcementError as e:
            return _error(
                400,
                f"Invalid input. Data is not compatible with model signature. {e.message}",
                "INVALID_PARAMETER_VALUE",  # MLflow's code for a request its schema enforcement refuses
            )
        except BakehouseError as e:
            code = "BAD_REQUEST" if isinstance(e, BadRequestError) else e.code.value
            return _error(e.http_status if e.http_status < 500 else 400, e.message, code)
        except Exception as e:
            logger.exception("Prediction failed")
            return _error(400, f"Failed to predict: {type(e).__name__}: {e}")
        return Response(payload, 200, media_type=_JSON, headers=headers(loaded))

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if sampler is not None:
            sampler.start()
        yield
        executor.shutdown(wait=False)
        if sampler is not None:
            await asyncio.get_running_loop().run_in_executor(None, sampler.stop)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.holder = holder
    app.state.sampler = sampler
    return app
