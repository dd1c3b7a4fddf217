"""The tracking store contract: every backend (SQL, REST) implements these methods with MLflow's names.

Methods raise :mod:`bakehouse.errors` exceptions only; a REST store rebuilds them from error codes, so
callers see the same exception class from every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bakehouse.entities import (
    Experiment,
    LoggedModel,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.entities.trace import Assessment, Span, Trace, TraceInfo

if TYPE_CHECKING:
    import numpy as np

#: Search limits shared by every store (MLflow's SEARCH_MAX_RESULTS_THRESHOLD and defaults).
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000
EXPERIMENTS_MAX_RESULTS_DEFAULT = 1000
LOGGED_MODELS_MAX_RESULTS_DEFAULT = 50


@runtime_checkable
class TrackingStore(Protocol):
    # ----------------------------------------------------------------------------------- experiments
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str: ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = EXPERIMENTS_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]: ...

    def delete_experiment(self, experiment_id: str) -> None: ...

    def restore_experiment(self, experiment_id: str) -> None: ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # ----------------------------------------------------------------------------------------- runs
    def create_run(
        self,
        experiment_id: str,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: Sequence[RunTag] | None = None,
        run_name: str | None = None,
    ) -> Run: ...

    def get_run(self, run_id: str) -> Run: ...

    def update_run_info(
        self,
        run_id: str,
        run_status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    def delete_run(self, run_id: str) -> None: ...

    def restore_run(self, run_id: str) -> None: ...

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None: ...

    def log_metric(self, run_id: str, metric: Metric) -> None: ...

    def log_param(self, run_id: str, param: Param) -> None: ...

    def set_tag(self, run_id: str, tag: RunTag) -> None: ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Metric]: ...

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        metric_key: str,
        max_results: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[Metric]: ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]: ...

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[str] = ()
    ) -> None: ...

    def log_outputs(self, run_id: str, models: Sequence[ModelOutput]) -> None: ...

    # -------------------------------------------------------------------------------- logged models
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel: ...

    def get_logged_model(self, model_id: str) -> LoggedModel: ...

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel: ...

    def delete_logged_model(self, model_id: str) -> None: ...

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None: ...

    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None: ...

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = LOGGED_MODELS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[dict[str, object]] | None = None,
        page_token: str | None = None,
        datasets: Sequence[dict[str, str | None]] | None = None,
    ) -> PagedList[LoggedModel]: ...

    # --------------------------------------------------------------------------------------- traces
    def start_trace(self, info: TraceInfo) -> TraceInfo: ...

    def log_spans(self, experiment_id: str, spans: Sequence[Span], run_id: str | None = None) -> int: ...

    def get_trace_info(self, trace_id: str) -> TraceInfo: ...

    def get_trace(self, trace_id: str, allow_partial: bool = False) -> Trace: ...

    def batch_get_traces(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
    ) -> list[Trace]: ...

    def batch_get_trace_infos(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
    ) -> list[TraceInfo]: ...

    def search_traces(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[TraceInfo], str | None]: ...

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None: ...

    def delete_trace_tag(self, trace_id: str, key: str) -> None: ...

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int: ...

    def link_traces_to_run(self, trace_ids: Sequence[str], run_id: str) -> None: ...

    def create_assessment(self, assessment: Assessment) -> Assessment: ...

    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment: ...

    def update_assessment(
        self,
        trace_id: str,
        assessment_id: str,
        name: str | None = None,
        kind: str | None = None,
        payload: dict[str, Any] | None = None,
        value: Any = None,
        rationale: str | None = None,
        metadata: dict[str, str] | None = None,
        valid: bool | None = None,
    ) -> Assessment: ...

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None: ...


@runtime_checkable
class GarbageCollectingStore(TrackingStore, Protocol):
    """A store that can delete for good what was deleted (``bakehouse gc``): the SQL store. A REST store
    is not one, as MLflow's REST API has no permanent deletion; ``bakehouse gc`` says so when given one."""

    def get_deleted_runs(self, older_than_ms: int | None = None) -> list[str]: ...

    def hard_delete_run(self, run_id: str) -> None: ...

    def get_deleted_experiments(self, older_than_ms: int | None = None) -> list[str]: ...

    def hard_delete_experiment(self, experiment_id: str) -> None: ...

    def get_traces_older_than(
        self, timestamp_ms: int, experiment_ids: Sequence[str] | None = None
    ) -> list[str]: ...

    def hard_delete_traces(self, trace_ids: Sequence[str]) -> None: ...


@runtime_checkable
class MetricHistoryRows(Protocol):
    """A tracking store that can give a metric history as plain ``(value, timestamp, step)`` rows.

    The SQL store can: the server answers ``get-history`` from these directly, since building 100,000
    Metric objects only to turn them into JSON would double its work. Other stores are asked for
    ``get_metric_history``."""

    def metric_history_rows(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[tuple[float, int, int]]: ...


@runtime_checkable
class MetricHistoryArrays(Protocol):
    """A tracking store that can hand a metric history over in chunks of fixed-width records.

    The SQL store reads the database in chunks; the REST store reads Bakehouse's binary history stream.
    Each chunk is a numpy array of ``bakehouse.wire.metric_stream.RECORD`` (step, timestamp, value) in
    MLflow's history order; the whole history is never held. A missing run is refused before the first
    chunk."""

    def iter_metric_history_arrays(self, run_id: str, metric_key: str) -> Iterator[np.ndarray]: ...


#: points per ``get-history`` page when a history is iterated from a store without a stream (MLflow's server)
HISTORY_PAGE_POINTS = 25000


def history_pages_as_arrays(store: TrackingStore, run_id: str, metric_key: str) -> Iterator[np.ndarray]:
    """Any store's history in chunks of ``RECORD`` arrays, read one ``get_metric_history`` page at a time."""
    import numpy as np  # only when a history is iterated (cold start)

    from bakehouse.wire.metric_stream import RECORD

    token: str | None = None
    while True:
        page = store.get_metric_history(run_id, metric_key, HISTORY_PAGE_POINTS, token)
        yield np.array([(m.step, m.timestamp, m.value) for m in page], dtype=RECORD)
        token = page.token
        if not token:
            return
