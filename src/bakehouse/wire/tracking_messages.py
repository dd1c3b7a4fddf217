"""Tracking service messages (MLflow's ``MlflowService``); their rows are in ``bakehouse.wire.tracking``.

Field names, defaults and paths follow ``mlflow/protos/service.proto``. Run endpoints accept ``run_id`` and
its deprecated alias ``run_uuid``; :meth:`RunScoped.resolved_run_id` picks whichever was sent.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bakehouse.entities import Metric
from bakehouse.errors import InvalidParameterError
from bakehouse.wire.json import INT64_MAX, INT64_MIN
from bakehouse.wire.messages import Double, Id, Int64, KeyValue, Text, WireModel


def _missing(name: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"Missing value for required parameter '{name}'. See the API docs for more information about request "
        "parameters."
    )


class RunScoped(WireModel):
    run_id: Id | None = None
    run_uuid: Id | None = None

    def resolved_run_id(self) -> str:
        run_id = self.run_id or self.run_uuid
        if not run_id:
            raise _missing("run_id")
        return run_id


# --------------------------------------------------------------------------------------- experiments
class CreateExperiment(WireModel):
    name: Text
    artifact_location: Text | None = None
    tags: list[KeyValue] = Field(default_factory=list)


class SearchExperiments(WireModel):
    max_results: Int64 | None = None
    page_token: str | None = None
    filter: Text | None = None
    order_by: list[Text] = Field(default_factory=list)
    view_type: str | int | None = None


class GetExperiment(WireModel):
    experiment_id: Id


class GetExperimentByName(WireModel):
    experiment_name: Text


class DeleteExperiment(WireModel):
    experiment_id: Id


class RestoreExperiment(WireModel):
    experiment_id: Id


class UpdateExperiment(WireModel):
    experiment_id: Id
    new_name: Text | None = None


class SetExperimentTag(WireModel):
    experiment_id: Id
    key: Text
    value: Text


class DeleteExperimentTag(WireModel):
    experiment_id: Id
    key: Text


# ---------------------------------------------------------------------------------------------- runs
class CreateRun(WireModel):
    experiment_id: Id  # required, as in MLflow (a run never lands in experiment 0 by omission)
    user_id: Text | None = None
    run_name: Text | None = None
    start_time: Int64 | None = None
    tags: list[KeyValue] = Field(default_factory=list)


class UpdateRun(RunScoped):
    status: str | int | None = None
    end_time: Int64 | None = None
    run_name: Text | None = None


class DeleteRun(RunScoped):
    pass


class RestoreRun(RunScoped):
    pass


class GetRun(RunScoped):
    pass


class SearchRuns(WireModel):
    experiment_ids: list[Id] = Field(default_factory=list)
    filter: Text | None = None
    run_view_type: str | int | None = None
    max_results: Int64 = 1000
    order_by: list[Text] = Field(default_factory=list)
    page_token: str | None = None


class MetricIn(WireModel):
    key: Text
    value: Double
    timestamp: Int64
    step: Int64 = 0
    model_id: Text | None = None
    dataset_name: Text | None = None
    dataset_digest: Text | None = None

    def to_entity(self, run_id: str) -> Metric:
        return Metric(
            self.key,
            self.value,
            self.timestamp,
            self.step,
            run_id,
            self.dataset_name,
            self.dataset_digest,
            self.model_id,
        )


class LogMetric(RunScoped, MetricIn):
    pass


class LogParam(RunScoped):
    key: Text
    value: Text


class SetTag(RunScoped):
    key: Text
    value: Text


class DeleteTag(WireModel):
    run_id: Id
    key: Text


_PLAIN_METRIC_FIELDS = frozenset(("key", "value", "timestamp", "step"))
_PLAIN_BATCH_FIELDS = frozenset(("run_id", "run_uuid", "metrics", "params", "tags"))


def plain_metrics(items: Any, run_id: str) -> list[Metric] | None:
    """Metric entities straight from JSON when every item has the plain shape clients send: a string key
    without NUL, a JSON number value, integer timestamp and step within int64, nothing else. Anything else
    returns None and goes through :class:`MetricIn`, which accepts a superset of this with the same results
    and words the errors; this shortcut exists because a 1000-metric batch is the hottest request there is.
    """
    if type(items) is not list:
        return None
    out = []
    for d in items:
        if type(d) is not dict or not d.keys() <= _PLAIN_METRIC_FIELDS:
            return None
        key, value, timestamp, step = d.get("key"), d.get("value"), d.get("timestamp"), d.get("step", 0)
        if type(key) is not str or "\x00" in key or type(timestamp) is not int or type(step) is not int:
            return None
        if not (INT64_MIN <= timestamp <= INT64_MAX and INT64_MIN <= step <= INT64_MAX):
            return None
        if type(value) is int and -(2**63) <= value < 2**63:
            value = float(value)
        elif type(value) is not float:
            return None
        out.append(Metric(key, value, timestamp, step, run_id))
    return out


class LogBatch(RunScoped):
    #: MetricIn items from the full validation, or Metric entities from :meth:`fast_validate`; read them
    #: through :meth:`metric_entities`.
    metrics: list[MetricIn] = Field(default_factory=list)
    params: list[KeyValue] = Field(default_factory=list)
    tags: list[KeyValue] = Field(default_factory=list)

    @classmethod
    def fast_validate(cls, data: dict[str, Any]) -> LogBatch | None:
        """A metrics-only batch in the plain shape, without per-field validation; None: use model_validate."""
        if (
            not data.keys() <= _PLAIN_BATCH_FIELDS
            or data.get("params", []) != []
            or data.get("tags", []) != []
        ):
            return None
        run_id, run_uuid = data.get("run_id"), data.get("run_uuid")
        if type(run_id) not in (str, type(None)) or type(run_uuid) not in (str, type(None)):
            return None
        resolved = run_id or run_uuid
        if not resolved:
            return None
        metrics = plain_metrics(data.get("metrics", []), resolved)
        if metrics is None:
            return None
        return cls.model_construct(run_id=run_id, run_uuid=run_uuid, metrics=metrics, params=[], tags=[])

    def metric_entities(self) -> list[Metric]:
        run_id = self.resolved_run_id()
        return [m if isinstance(m, Metric) else m.to_entity(run_id) for m in self.metrics]


class LogModel(RunScoped):
    model_json: Text | None = None


class DatasetMessage(WireModel):
    name: Text = ""
    digest: Text = ""
    source_type: Text = ""
    source: Text = ""
    schema_: Text | None = Field(default=None, alias="schema")
    profile: Text | None = None


class DatasetInputMessage(WireModel):
    tags: list[KeyValue] = Field(default_factory=list)
    dataset: DatasetMessage


class ModelInputMessage(WireModel):
    model_id: Id


class ModelOutputMessage(WireModel):
    model_id: Id
    step: Int64 = 0


class LogInputs(WireModel):
    run_id: Id
    datasets: list[DatasetInputMessage] = Field(default_factory=list)
    models: list[ModelInputMessage] = Field(default_factory=list)


class LogOutputs(WireModel):
    run_id: Id
    models: list[ModelOutputMessage] = Field(default_factory=list)


class GetMetricHistory(RunScoped):
    metric_key: Text
    page_token: str | None = None
    max_results: Int64 | None = None


class GetMetricHistoryBulkInterval(WireModel):
    run_ids: list[Id] = Field(default_factory=list)
    metric_key: Text
    start_step: Int64 | None = None
    end_step: Int64 | None = None
    max_results: Int64 | None = None


class GetMetricHistoryBulk(WireModel):
    """The UI-only ``/ajax-api/2.0/mlflow/metrics/get-history-bulk`` (not a proto RPC)."""

    run_id: list[Id] = Field(default_factory=list)
    metric_key: Text
    max_results: Int64 | None = None


class ListArtifacts(RunScoped):
    path: Text | None = None
    page_token: str | None = None


# ------------------------------------------------------------------------------------- logged models
class CreateLoggedModel(WireModel):
    experiment_id: Id
    name: Text | None = None
    model_type: Text | None = None
    source_run_id: Id | None = None
    params: list[KeyValue] = Field(default_factory=list)
    tags: list[KeyValue] = Field(default_factory=list)


class FinalizeLoggedModel(WireModel):
    model_id: Id
    status: str | int


class GetLoggedModel(WireModel):
    model_id: Id


class DeleteLoggedModel(WireModel):
    model_id: Id


class LoggedModelOrderBy(WireModel):
    field_name: Text
    ascending: bool = True
    dataset_name: Text | None = None
    dataset_digest: Text | None = None


class LoggedModelDataset(WireModel):
    dataset_name: Text
    dataset_digest: Text | None = None


class SearchLoggedModels(WireModel):
    experiment_ids: list[Id] = Field(default_factory=list)
    filter: Text | None = None
    datasets: list[LoggedModelDataset] = Field(default_factory=list)
    max_results: Int64 | None = None
    order_by: list[LoggedModelOrderBy] = Field(default_factory=list)
    page_token: str | None = None


class SetLoggedModelTags(WireModel):
    model_id: Id
    tags: list[KeyValue] = Field(default_factory=list)


class DeleteLoggedModelTag(WireModel):
    model_id: Id
    tag_key: Text


class ListLoggedModelArtifacts(WireModel):
    model_id: Id
    artifact_directory_path: Text | None = None
    page_token: str | None = None


class LogLoggedModelParams(WireModel):
    model_id: Id
    params: list[KeyValue] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------ the table
