"""The scoring server: a small Starlette app with ``/ping``, ``/health``, ``/version``, ``/invocations``.

The loaded model lives in a :class:`ModelHolder`; ``swap`` replaces model and version in one assignment,
so a watcher can hot-swap versions while requests are in flight (each request reads the holder once).
Prediction runs in a thread so a per-request timeout can answer 504; bodies over the limit get 413.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from bakehouse.serving.fastpath import MatrixFastPath
from bakehouse.version import __version__

if TYPE_CHECKING:
    from bakehouse.serving.sampling import RequestSampler

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
MODEL_HEADER = "x-bakehouse-model"
VERSION_HEADER = "x-bakehouse-model-version"
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class LoadedModel:
    model: Any
    uri: str
    version: str | None = None
    fast: MatrixFastPath | None = None

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
        self._current = LoadedModel(model, uri, version, MatrixFastPath.for_model(model))
        self._lock = threading.Lock()

    @property
    def current(self) -> LoadedModel:
        return self._current

    def swap(self, new_model: Any, version: str | None = None, uri: str | None = None) -> LoadedModel:
        with self._lock:
            previous = self._current
            self._current = LoadedModel(
                new_model, uri or previous.uri, version, MatrixFastPath.for_model(new_model)
            )
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
    fast: MatrixFastPath | None = None,
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
        loop = asyncio.get_running_loop()
        sample = None
        if sampler is not None and sampler.wants():
            version = loaded.version

            def sample(data: Any) -> None:
                sampler.offer(data, version)

        future = loop.run_in_executor(
            executor, predict_body, loaded.model, body, content_type, loaded.fast, sample
        )
        try:
            payload = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return _error(504, f"Prediction timed out after {timeout:g} s", "DEADLINE_EXCEEDED")
        except UnsupportedMediaType as e:
            return Response(str(e), 415, media_type="text/plain")
        except SchemaEnforcementError as e:
            return _error(400, f"Invalid input. Data is not compatible with model signature. {e.message}")
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
