"""The fluent API: a thin stack of active runs over a ``Client``, with MLflow's names and semantics."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bakehouse import settings
from bakehouse.client import stores
from bakehouse.clock import now_ms
from bakehouse.entities import Experiment, LifecycleStage, Run, RunStatus, ViewType
from bakehouse.entities.page import collect_pages
from bakehouse.errors import BakehouseError, InvalidParameterError

if TYPE_CHECKING:  # client.py loads the batching and registry machinery: imported on first use
    from bakehouse.client.client import Client

_active_experiment_id: str | None = None
_last_active_run_id: str | None = None
_state = threading.local()
_client_cache: dict[tuple[str | None, str | None], Client] = {}
_uncaught_exception = False


class ActiveRun(Run):
    """The run returned by ``start_run``; ends itself when used as a context manager."""

    def __init__(self, run: Run, client: Client) -> None:
        super().__init__(run.info, run.data, run.inputs, run.outputs)
        self.client = client  # the client that started it: logging skips every lookup
        self.system_metrics: Any = None  # its SystemMetricsMonitor, when system metrics are logged

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if any(r.info.run_id == self.info.run_id for r in _stack()):
            end_run(status.value)


def _stack() -> list[ActiveRun]:
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def _client_class() -> type[Client]:
    from bakehouse.client.client import Client

    return Client


def _client() -> Client:
    key = (stores.chosen_tracking_uri() or settings.tracking_uri_from_env(), stores.chosen_registry_uri())
    client = _client_cache.get(key)
    if client is None:
        client = _client_cache[key] = _client_class()()
    return client


# ------------------------------------------------------------------------------------------ URIs
def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    stores.choose_tracking_uri(os.fspath(uri) if uri is not None else None)
    if uri is None:
        return
    chosen = get_tracking_uri()
    if stores.is_server_uri(chosen):
        stores.prepare_tracking_store(_client().tracking_store)
    else:
        # the database is not opened (choosing its URI must not create it), but the code the first call
        # needs is loaded now: the client's modules, SQLAlchemy and the schema (0.3-1 s in a fresh process)
        _client_class()
        stores.load_database_store_code(chosen)


def is_tracking_uri_set() -> bool:
    """Whether a tracking URI was chosen (by ``set_tracking_uri`` or the environment), not defaulted."""
    return stores.chosen_tracking_uri() is not None or bool(settings.tracking_uri_from_env())


def get_tracking_uri() -> str:
    return stores.resolve_tracking_uri(stores.chosen_tracking_uri())


def set_registry_uri(uri: str | None) -> None:
    stores.choose_registry_uri(uri)


def get_registry_uri() -> str:
    return _client().registry_uri


# ----------------------------------------------------------------------------------- experiments
def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it by name if it does not exist."""
    global _active_experiment_id
    if experiment_id is not None and experiment_name is None:
        experiment = _client().get_experiment(str(experiment_id))
    elif experiment_name is not None and experiment_id is None:
        experiment = _get_or_create_experiment(_client(), experiment_name)
    else:
        raise InvalidParameterError("Exactly one of experiment_name or experiment_id must be given")
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterError(
            f"Cannot set a deleted experiment '{experiment.name}' as the active experiment. You can restore the "
            "experiment, or permanently delete the experiment to create a new one."
        )
    _active_experiment_id = experiment.experiment_id
    return experiment


def _get_or_create_experiment(client: Client, name: str) -> Experiment:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found
    try:
        new_id = client.create_experiment(name)
    except BakehouseError:  # another process created it meanwhile
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        new_id = found.experiment_id
    return client.get_experiment(new_id)


def _resolve_experiment_id(explicit: str | None) -> str:
    if explicit is not None:
        return str(explicit)
    if _active_experiment_id is not None:
        return _active_experiment_id
    env_id = settings.experiment_id_from_env()
    if env_id:
        return env_id
    env_name = settings.experiment_name_from_env()
    if env_name:
        return set_experiment(experiment_name=env_name).experiment_id
    return "0"


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def set_experiment_tag(key: str, value: Any) -> None:
    """Tag the active experiment (the one ``start_run`` would use)."""
    _client().set_experiment_tag(_resolve_experiment_id(None), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    experiment_id = _resolve_experiment_id(None)
    for key, value in tags.items():
        _client().set_experiment_tag(experiment_id, key, value)


def delete_experiment_tag(key: str) -> None:
    _client().delete_experiment_tag(_resolve_experiment_id(None), key)


def get_experiment(experiment_id: str) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    _client().delete_experiment(experiment_id)


def search_experiments(
    view_type: ViewType | str = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    client = _client()
    out: list[Experiment] = []
    token = None
    while True:
        page = client.search_experiments(view_type, 1000, filter_string, order_by, token)
        out.extend(page)
        token = page.token
        if not token or (max_results is not None and len(out) >= max_results):
            return out[:max_results] if max_results is not None else out


# ------------------------------------------------------------------------------------------- runs
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run, or resume one (``run_id``, or the id a project runner put in the environment)."""
    global _last_active_run_id
    from bakehouse.client import system_tags

    stack = _stack()
    if stack and not nested and parent_run_id is None:
        raise BakehouseError(
            f"Run with UUID {stack[-1].info.run_id} is already active. To start a new run, first end the current "
            "run with bakehouse.end_run(). To start a nested run, call start_run with nested=True",
            "INVALID_PARAMETER_VALUE",
        )
    client = _client()
    if run_id is None and not stack:
        run_id = settings.run_id_from_env()
    if run_id is not None:
        existing = client.get_run(run_id)
        if existing.info.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise InvalidParameterError(
                f"Cannot start run with ID {run_id} because it is in the deleted state."
            )
        if experiment_id is not None and str(experiment_id) != existing.info.experiment_id:
            raise InvalidParameterError(
                f"The run {run_id} belongs to experiment {existing.info.experiment_id}, not {experiment_id}"
            )
        client.update_run(run_id, RunStatus.RUNNING.value, run_name)
        if tags:
            client.log_batch(run_id, tags=[_tag(k, v) for k, v in tags.items()])
        if description:
            client.set_tag(run_id, "mlflow.note.content", description)
        run = client.get_run(run_id)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        all_tags = system_tags.default_tags()
        all_tags.update({k: str(v) for k, v in (tags or {}).items()})
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        if description:
            all_tags["mlflow.note.content"] = description
        if run_name:
            all_tags.pop("mlflow.runName", None)
        run = client.create_run(_resolve_experiment_id(experiment_id), tags=all_tags, run_name=run_name)
    active = ActiveRun(run, client)
    from bakehouse.client import system_metrics

    if system_metrics.wanted(log_system_metrics):
        active.system_metrics = system_metrics.start_for_run(
            client, active.info.run_id, resuming=run_id is not None
        )
    stack.append(active)
    _last_active_run_id = active.info.run_id
    return active


def _tag(key: str, value: Any) -> Any:
    from bakehouse.entities import RunTag

    return RunTag(key, str(value))


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run; its buffered metrics are written first."""
    global _last_active_run_id
    stack = _stack()
    if not stack:
        return
    run = stack[-1]
    if run.system_metrics is not None:
        run.system_metrics.stop()
    try:
        run.client.set_terminated(run.info.run_id, RunStatus.parse(status).value)
    finally:
        stack.pop()
        _last_active_run_id = run.info.run_id


def active_run() -> ActiveRun | None:
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    current = active_run()
    if current is not None:
        return _client().get_run(current.info.run_id)
    if _last_active_run_id is None:
        return None
    return _client().get_run(_last_active_run_id)


def _active_run_id() -> str:
    current = active_run()
    if current is None:
        current = start_run()
    return current.info.run_id


def _active() -> ActiveRun:
    stack = _stack()
    return stack[-1] if stack else start_run()


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The run that ``run_id`` is nested in, or None for a top-level run."""
    parent_id = _client().get_run(run_id).data.tags.get("mlflow.parentRunId")
    return _client().get_run(parent_id) if parent_id else None


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    run_id = _active_run_id()
    base = _client().get_run(run_id).info.artifact_uri
    if not artifact_path:
        return base
    from bakehouse.store.tracking.sql.connection import append_to_uri

    return append_to_uri(base, artifact_path)


# ---------------------------------------------------------------------------------------- logging
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    return _client().log_param(_active_run_id(), key, value)


def log_params(params: dict[str, Any], synchronous: bool | None = None) -> None:
    from bakehouse.entities import Param

    _client().log_batch(_active_run_id(), params=[Param(str(k), str(v)) for k, v in params.items()])


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    if run_id is None:
        active = _active()
        client, run_id = active.client, active.info.run_id
    else:
        client = _client()
    client.log_metric(
        run_id,
        key,
        value,
        timestamp,
        step,
        synchronous,
        getattr(dataset, "name", None),
        getattr(dataset, "digest", None),
        model_id,
    )


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    if run_id is None:
        active = _active()
        client, target = active.client, active.info.run_id
    else:
        client, target = _client(), run_id
    ts = timestamp if timestamp is not None else now_ms()
    for key, value in metrics.items():
        client.log_metric(
            target,
            key,
            value,
            ts,
            step,
            synchronous,
            getattr(dataset, "name", None),
            getattr(dataset, "digest", None),
            model_id,
        )


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    _client().set_tag(_active_run_id(), key, value)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> None:
    _client().log_batch(_active_run_id(), tags=[_tag(k, v) for k, v in tags.items()])


def delete_tag(key: str) -> None:
    _client().delete_tag(_active_run_id(), key)


def log_artifact(local_path: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    _client().log_artifact(run_id or _active_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    _client().log_artifacts(run_id or _active_run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_text(run_id or _active_run_id(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    _client().log_dict(run_id or _active_run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None) -> None:
    _client().log_figure(_active_run_id(), figure, artifact_file, save_kwargs)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
) -> None:
    _client().log_image(_active_run_id(), image, artifact_file, key, step, timestamp)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """A DataFrame or dict of columns as a JSON/Parquet table artifact; logging again to the file appends."""
    _client().log_table(run_id or _active_run_id(), data, artifact_file)


def load_table(
    artifact_file: str, run_ids: Sequence[str] | None = None, extra_columns: Sequence[str] | None = None
) -> Any:
    """The table ``artifact_file`` from every run of the active experiment that has it (or from ``run_ids``)."""
    return _client().load_table(_resolve_experiment_id(None), artifact_file, run_ids, extra_columns)


def log_input(
    dataset: Any, context: str | None = None, tags: dict[str, str] | None = None, model: Any = None
) -> None:
    """Record a dataset (``bakehouse.data.from_pandas`` / ``from_numpy``) as an input of the active run;
    ``context`` ("training", "eval", ...) becomes the ``mlflow.data.context`` tag, as in MLflow."""
    log_inputs([dataset] if dataset is not None else None, [context], [tags], [model])


def log_inputs(
    datasets: Sequence[Any] | None = None,
    contexts: Sequence[str | None] | None = None,
    tags_list: Sequence[dict[str, str] | None] | None = None,
    models: Sequence[Any] | None = None,
) -> None:
    """Several dataset inputs (and logged models, as objects with ``model_id`` or as ids) at once."""
    datasets = list(datasets or [])
    contexts = list(contexts or [None] * len(datasets))
    tags_list = list(tags_list or [None] * len(datasets))
    if len(contexts) < len(datasets) or len(tags_list) < len(datasets):
        raise InvalidParameterError("contexts and tags_list must have one entry per dataset")
    inputs = [d.to_dataset_input(context=c, tags=t) for d, c, t in zip(datasets, contexts, tags_list)]
    model_ids = [getattr(m, "model_id", m) for m in models or [] if m is not None]
    if inputs or model_ids:
        _client().log_inputs(_active_run_id(), inputs, model_ids)


def flush_async_logging() -> None:
    """Write every buffered metric point now (MLflow's name for it)."""
    from bakehouse.client.client import flush_all

    flush_all()


# ----------------------------------------------------------------------------------------- search
def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching a filter, as a pandas DataFrame (default) or a list of Run objects."""
    client = _client()
    ids = [str(i) for i in (experiment_ids or [])]
    for name in experiment_names or []:
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            ids.append(experiment.experiment_id)
    if not ids and not experiment_names:
        if search_all_experiments:
            ids = [e.experiment_id for e in search_experiments(view_type=ViewType.ALL)]
        else:
            ids = [_resolve_experiment_id(None)]
    runs: list[Run] = collect_pages(
        lambda token, n: client.search_runs(ids, filter_string, run_view_type, n, order_by, token),
        max_results,
        50000,
    )
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise InvalidParameterError(f"Unsupported output_format {output_format!r}: use 'pandas' or 'list'")
    from bakehouse.client.frames import runs_to_dataframe

    return runs_to_dataframe(runs)


# ---------------------------------------------------------------------------------- process exit
def _end_runs_at_exit() -> None:
    status = RunStatus.FAILED.value if _uncaught_exception else RunStatus.FINISHED.value
    while _stack():
        try:
            end_run(status)
        except Exception:
            import logging

            logging.getLogger(__name__).exception("Could not end the active run at exit")
            _stack().pop()


def _install_excepthook() -> None:
    previous = sys.excepthook

    def hook(exc_type: Any, exc: Any, tb: Any) -> None:
        global _uncaught_exception
        _uncaught_exception = True
        previous(exc_type, exc, tb)

    sys.excepthook = hook


_install_excepthook()
atexit.register(_end_runs_at_exit)


def _reset_for_tests() -> None:
    """Forget every piece of global fluent state (tests run many 'processes' in one)."""
    global _active_experiment_id, _last_active_run_id, _uncaught_exception
    from bakehouse.client.client import flush_all

    while _stack():
        try:
            end_run()
        except Exception:  # noqa: BLE001 - a run that cannot end is dropped: the reset must finish
            _stack().pop()
    flush_all()
    stores.choose_tracking_uri(None)
    stores.choose_registry_uri(None)
    _active_experiment_id = _last_active_run_id = None
    _uncaught_exception = False
    _client_cache.clear()
    stores.clear_store_cache()
