"""``Client``: the explicit API over any store, with MlflowClient's method names and semantics."""

from __future__ import annotations

import atexit
import json
import os
import posixpath
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakehouse import settings
from bakehouse.client import stores
from bakehouse.client.batching import MetricBatcher
from bakehouse.client.registry import RegistryClientMixin
from bakehouse.client.stores import get_registry_store, get_tracking_store, resolve_tracking_uri
from bakehouse.client.traces import TracesClientMixin
from bakehouse.client.webhooks import WebhookClientMixin
from bakehouse.clock import now_ms
from bakehouse.entities import (
    Experiment,
    FileInfo,
    LoggedModel,
    Metric,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.errors import InvalidParameterError
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.registry.base import RegistryStore
from bakehouse.store.tracking.base import MetricHistoryArrays, history_pages_as_arrays
from bakehouse.store.validation import validate_key, validate_metric
from bakehouse.uri import uri_scheme

if TYPE_CHECKING:
    import numpy as np

_batchers: weakref.WeakSet[MetricBatcher] = weakref.WeakSet()
_batchers_lock = threading.Lock()


def _tags_list(tags: dict[str, Any] | Sequence[Any] | None) -> list[RunTag]:
    if not tags:
        return []
    if isinstance(tags, dict):
        return [RunTag(str(k), str(v)) for k, v in tags.items()]
    return [RunTag(t.key, t.value) for t in tags]


class Client(RegistryClientMixin, TracesClientMixin, WebhookClientMixin):
    """A client for one tracking URI (and registry URI, by default the same)."""

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self.tracking_uri = resolve_tracking_uri(tracking_uri, stores.chosen_tracking_uri())
        self._registry_uri = registry_uri or stores.chosen_registry_uri()
        self.tracking_store = get_tracking_store(self.tracking_uri)
        if stores.is_server_uri(self.tracking_uri):
            # the HTTP client is built now (no request is sent), so the first call costs what later ones do
            stores.prepare_tracking_store(self.tracking_store)
        self._batcher = _batcher_for(self.tracking_store)
        self._async_logging = settings.async_logging_enabled()

    @property
    def registry_uri(self) -> str:
        uri = self._registry_uri or settings.registry_uri_from_env() or self.tracking_uri
        return resolve_tracking_uri(uri)

    @property
    def registry_store(self) -> RegistryStore:
        return get_registry_store(self.registry_uri)

    # ------------------------------------------------------------------------------ experiments
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        return self.tracking_store.create_experiment(
            name, artifact_location, {str(k): str(v) for k, v in (tags or {}).items()}
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.tracking_store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.tracking_store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        return self.tracking_store.search_experiments(
            ViewType.parse(view_type), max_results, filter_string, order_by, page_token
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._batcher.flush()
        self.tracking_store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self.tracking_store.restore_experiment(str(experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.tracking_store.rename_experiment(str(experiment_id), new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.tracking_store.set_experiment_tag(str(experiment_id), key, str(value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.tracking_store.delete_experiment_tag(str(experiment_id), key)

    # ------------------------------------------------------------------------------------- runs
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | Sequence[Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        tag_list = _tags_list(tags)
        user = next((t.value for t in tag_list if t.key == "mlflow.user"), None) or settings.current_user()
        return self.tracking_store.create_run(
            str(experiment_id), user, start_time if start_time is not None else now_ms(), tag_list, run_name
        )

    def get_run(self, run_id: str) -> Run:
        self._batcher.flush(run_id)
        return self.tracking_store.get_run(run_id)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        self._batcher.flush(run_id)
        end_time = now_ms() if status is not None and RunStatus.parse(status).is_terminated else None
        self.tracking_store.update_run_info(run_id, status, end_time, name)

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        self._batcher.flush(run_id)
        self.tracking_store.update_run_info(
            run_id,
            RunStatus.parse(status or "FINISHED").value,
            end_time if end_time is not None else now_ms(),
        )

    def delete_run(self, run_id: str) -> None:
        self._batcher.flush(run_id)
        self.tracking_store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.tracking_store.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        self._batcher.flush()
        ids = [experiment_ids] if isinstance(experiment_ids, (str, int)) else list(experiment_ids)
        return self.tracking_store.search_runs(
            [str(i) for i in ids],
            filter_string or None,
            ViewType.parse(run_view_type),
            max_results,
            order_by,
            page_token,
        )

    # ---------------------------------------------------------------------------------- logging
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> None:
        metric = Metric(
            key,
            _as_float(key, value),
            timestamp if timestamp is not None else now_ms(),
            step or 0,
            None,
            dataset_name,
            dataset_digest,
            model_id,
        )
        validate_metric(metric.key, metric.value, metric.timestamp, metric.step)
        if synchronous or (synchronous is None and not self._async_logging):
            self._batcher.flush(run_id)
            self.tracking_store.log_batch(run_id, metrics=[metric])
        else:
            self._batcher.add(run_id, metric)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        self.tracking_store.log_batch(run_id, params=[Param(key, _stringify(value))])
        return value

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        self.tracking_store.log_batch(run_id, tags=[RunTag(key, _stringify(value))])

    def delete_tag(self, run_id: str, key: str) -> None:
        self.tracking_store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Any] = (),
        params: Sequence[Any] = (),
        tags: Sequence[Any] = (),
        synchronous: bool | None = None,
    ) -> None:
        """Log many values at once; split into store-sized batches (each batch all-or-nothing)."""
        metric_list = [
            m
            if type(m) is Metric and type(m.value) is float and type(m.step) is int  # already what we send
            else Metric(
                m.key,
                _as_float(m.key, m.value),
                m.timestamp,
                m.step or 0,
                None,
                getattr(m, "dataset_name", None),
                getattr(m, "dataset_digest", None),
                getattr(m, "model_id", None),
            )
            for m in metrics
        ]
        param_list = [Param(p.key, _stringify(p.value)) for p in params]
        tag_list = [RunTag(t.key, _stringify(t.value)) for t in tags]
        self._batcher.flush(run_id)
        for chunk_metrics, chunk_params, chunk_tags in _split_batches(metric_list, param_list, tag_list):
            self.tracking_store.log_batch(run_id, metrics=chunk_metrics, params=chunk_params, tags=chunk_tags)

    def flush(self) -> None:
        """Write every buffered metric point now."""
        self._batcher.flush()

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self._batcher.flush(run_id)
        points: list[Metric] = []
        token: str | None = None
        while True:
            page = self.tracking_store.get_metric_history(run_id, key, None, token)
            points.extend(page)
            token = page.token
            if not token:
                return points

    def iter_metric_history_arrays(self, run_id: str, key: str) -> Iterator[np.ndarray]:
        """A metric history in chunks, none of it held beyond the chunk in hand: numpy arrays of
        ``bakehouse.wire.metric_stream.RECORD`` (fields ``step``, ``timestamp``, ``value``) in the order
        ``get_metric_history`` returns. From a Bakehouse server or a database the chunks stream (up to
        65,536 points each); from an MLflow server they are ``get-history`` pages of 25,000 points."""
        self._batcher.flush(run_id)
        store = self.tracking_store
        if isinstance(store, MetricHistoryArrays):
            return store.iter_metric_history_arrays(run_id, key)
        return history_pages_as_arrays(store, run_id, key)

    def iter_metric_history(self, run_id: str, key: str) -> Iterator[Metric]:
        """``get_metric_history`` as an iterator: the same points, one at a time, read chunk by chunk
        (``iter_metric_history_arrays``; faster by far when the arrays themselves will do)."""
        for chunk in self.iter_metric_history_arrays(run_id, key):
            for step, timestamp, value in chunk.tolist():
                yield Metric(key, value, timestamp, step, run_id)

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] | None = None, models: Sequence[str] | None = None
    ) -> None:
        self.tracking_store.log_inputs(run_id, datasets or [], models or [])

    def log_outputs(self, run_id: str, models: Sequence[ModelOutput]) -> None:
        self.tracking_store.log_outputs(run_id, models)

    # -------------------------------------------------------------------------------- artifacts
    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return get_artifact_repository(artifact_uri, tracking_uri=self._http_tracking_uri())

    def _http_tracking_uri(self) -> str | None:
        return self.tracking_uri if uri_scheme(self.tracking_uri) in ("http", "https") else None

    def _run_repo(self, run_id: str) -> ArtifactRepository:
        return self.artifact_repository(self.tracking_store.get_run(run_id).info.artifact_uri)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        path = Path(local_path)
        if not path.exists():
            raise InvalidParameterError(f"Cannot log artifact: {str(path)!r} does not exist")
        repo = self._run_repo(run_id)
        if path.is_dir():
            repo.log_artifacts(
                str(path), posixpath.join(artifact_path, path.name) if artifact_path else path.name
            )
        else:
            repo.log_artifact(str(path), artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        if not Path(local_dir).is_dir():
            raise InvalidParameterError(f"Cannot log artifacts: {str(local_dir)!r} is not a directory")
        self._run_repo(run_id).log_artifacts(str(local_dir), artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self._run_repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        return self._run_repo(run_id).download_artifacts(path, dst_path)

    @contextmanager
    def _artifact_file(self, run_id: str, artifact_file: str) -> Iterator[Path]:
        """A temporary local file that is uploaded as ``artifact_file`` when the block ends."""
        artifact_dir, name = posixpath.split(artifact_file)
        if not name:
            raise InvalidParameterError(f"Invalid artifact file name {artifact_file!r}")
        with tempfile.TemporaryDirectory(prefix="bakehouse-") as tmp:
            local = Path(tmp) / name
            yield local
            self._run_repo(run_id).log_artifact(str(local), artifact_dir or None)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        with self._artifact_file(run_id, artifact_file) as local:
            local.write_text(text, encoding="utf-8")

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        with self._artifact_file(run_id, artifact_file) as local:
            if artifact_file.endswith((".yaml", ".yml")):
                import yaml  # only for YAML artifacts

                local.write_text(
                    yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False), "utf-8"
                )
            else:
                local.write_text(json.dumps(dictionary, indent=2, default=str), "utf-8")

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """A DataFrame (or dict of columns) as a table artifact; an existing table there gets the rows appended."""
        from bakehouse.client.tables import log_table

        log_table(self, run_id, data, artifact_file)

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: Sequence[str] | None = None,
        extra_columns: Sequence[str] | None = None,
    ) -> Any:
        """The table ``artifact_file`` of the experiment's runs (or of ``run_ids``) as one DataFrame."""
        from bakehouse.client.tables import load_table

        return load_table(self, experiment_id, artifact_file, run_ids, extra_columns)

    def log_figure(
        self, run_id: str, figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None = None
    ) -> None:
        with self._artifact_file(run_id, artifact_file) as local:
            module = type(figure).__module__
            if module.startswith("matplotlib"):
                figure.savefig(local, **(save_kwargs or {}))
            elif module.startswith("plotly"):
                if artifact_file.endswith(".html"):
                    figure.write_html(str(local), include_plotlyjs="cdn", **(save_kwargs or {}))
                else:
                    figure.write_image(str(local), **(save_kwargs or {}))
            else:
                raise InvalidParameterError(
                    f"Unsupported figure type {type(figure).__name__}: expected a matplotlib or plotly figure"
                )

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        if artifact_file is None and key is None:
            raise InvalidParameterError("log_image needs artifact_file, or key (with optional step)")
        if artifact_file is None:
            validate_key(key, "image")
            artifact_file = f"images/{key}/step_{step or 0}_{timestamp or now_ms()}.png"
        with self._artifact_file(run_id, artifact_file) as local:
            _to_pil(image).save(local)

    # ---------------------------------------------------------------------------- logged models
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        return self.tracking_store.create_logged_model(
            str(experiment_id),
            name,
            source_run_id,
            {k: str(v) for k, v in (tags or {}).items()},
            {k: _stringify(v) for k, v in (params or {}).items()},
            model_type,
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self.tracking_store.get_logged_model(model_id)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        return self.tracking_store.finalize_logged_model(model_id, status)

    def delete_logged_model(self, model_id: str) -> None:
        self.tracking_store.delete_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self.tracking_store.set_logged_model_tags(model_id, {k: str(v) for k, v in tags.items()})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.tracking_store.delete_logged_model_tag(model_id, key)

    def log_model_params(self, model_id: str, params: dict[str, Any]) -> None:
        self.tracking_store.log_logged_model_params(model_id, {k: _stringify(v) for k, v in params.items()})

    def log_model_artifact(self, model_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Upload a file into a logged model's artifacts (MlflowClient's name)."""
        location = self.get_logged_model(model_id).artifact_location
        self.artifact_repository(location).log_artifact(local_path, artifact_path)

    def log_model_artifacts(self, model_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload a directory into a logged model's artifacts (MlflowClient's name)."""
        location = self.get_logged_model(model_id).artifact_location
        self.artifact_repository(location).log_artifacts(local_dir, artifact_path)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[dict[str, str | None]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """MLflow's signature: ``datasets`` ({"dataset_name", "dataset_digest"?}) limits the search to models
        with metrics on those datasets."""
        return self.tracking_store.search_logged_models(
            [str(i) for i in experiment_ids], filter_string, max_results or 50, order_by, page_token, datasets
        )


# ---------------------------------------------------------------------------------------- helpers
def _stringify(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _as_float(key: str, value: Any) -> float:
    """Numbers (numpy scalars included) become floats; anything else is refused at the call site."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        raise InvalidParameterError(
            f"Got invalid value {value!r} for metric '{key}'. Please specify value as a valid double (64-bit floating point)"
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"Got invalid value {value!r} for metric '{key}'. Please specify value as a valid double (64-bit floating point)"
        ) from None


def _split_batches(
    metrics: list[Metric], params: list[Param], tags: list[RunTag]
) -> Iterable[tuple[list[Metric], list[Param], list[RunTag]]]:
    """Params and tags first (100 at a time), then metrics in chunks of 1000, as MLflow's client does."""
    if not (metrics or params or tags):
        return
    for start in range(0, max(len(params), len(tags), 1), 100):
        chunk_p, chunk_t = params[start : start + 100], tags[start : start + 100]
        if chunk_p or chunk_t:
            yield [], chunk_p, chunk_t
    for start in range(0, len(metrics), 1000):
        yield metrics[start : start + 1000], [], []


def _to_pil(image: Any) -> Any:
    from PIL import Image  # optional: only for log_image

    if isinstance(image, Image.Image):
        return image
    import numpy as np  # images given as arrays

    array = np.asarray(image)
    if array.dtype.kind == "f":
        if array.min() < 0 or array.max() > 1:
            raise InvalidParameterError("Float images must have values in [0, 1]")
        array = (array * 255).round().astype("uint8")
    elif array.dtype != np.uint8:
        if array.min() < 0 or array.max() > 255:
            raise InvalidParameterError("Integer images must have values in [0, 255]")
        array = array.astype("uint8")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array)


def _batcher_for(store: Any) -> MetricBatcher:
    with _batchers_lock:
        batcher = getattr(store, "_bakehouse_batcher", None)
        if batcher is None:
            batcher = MetricBatcher(store)
            store._bakehouse_batcher = batcher
            _batchers.add(batcher)
        return batcher


def flush_all() -> None:
    """Write every buffered point of every store (at exit, and before the fluent API ends a run)."""
    for batcher in list(_batchers):
        try:
            batcher.flush()
        except Exception:
            import logging

            logging.getLogger(__name__).exception("Could not write buffered metrics")


atexit.register(flush_all)
