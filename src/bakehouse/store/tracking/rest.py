"""The tracking store over HTTP: any MLflow-compatible server (Bakehouse's own, or MLflow's).

Calls are built from the ENDPOINTS rows of :mod:`bakehouse.wire.tracking`, so a path or method can never
drift from what the server mounts; errors come back as the exception classes the SQL store raises.
Large batches are split to the server's per-request limits (1000 metrics / 100 params / 100 tags).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

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
from bakehouse.errors import ErrorCode, InternalError, NotFoundError
from bakehouse.gc_pause import collector_paused
from bakehouse.store.tracking.base import (
    EXPERIMENTS_MAX_RESULTS_DEFAULT,
    LOGGED_MODELS_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_DEFAULT,
    history_pages_as_arrays,
)
from bakehouse.store.tracking.rest_traces import RestTracesMixin
from bakehouse.wire import json as wj
from bakehouse.wire.tracking import BY_NAME
from bakehouse.wire.transport import HttpTransport, decode_answer, quote_path

if TYPE_CHECKING:
    import numpy as np

    from bakehouse.wire.transport import Reply

API_PREFIX = "/api/2.0"
HISTORY_PAGE = 25000


def _stream_records(response: Reply) -> Iterator[np.ndarray]:
    """The records of a history stream as they arrive; the response is closed when done or dropped."""
    # numpy loads only when a history is streamed: importing the REST store stays cheap for a cold start
    from bakehouse.wire.metric_stream import LAYOUT, LAYOUT_HEADER, records_from_blocks

    try:
        layout = response.headers.get(LAYOUT_HEADER)
        if layout != LAYOUT:
            raise InternalError(f"The server streams metric history records as {layout!r}, not {LAYOUT!r}")
        yield from records_from_blocks(response.iter_bytes(1 << 18))
    finally:
        response.close()


def _kv(mapping: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (mapping or {}).items()]


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _metric_body(m: Metric) -> dict[str, Any]:
    value: float | str = m.value
    if not (
        type(m.value) is float and -math.inf < m.value < math.inf
    ):  # the usual case skips a call per point
        value = wj.float_to_json(m.value)
    body: dict[str, Any] = {"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step}
    if m.dataset_name is not None:
        body["dataset_name"] = m.dataset_name
    if m.dataset_digest is not None:
        body["dataset_digest"] = m.dataset_digest
    if m.model_id is not None:
        body["model_id"] = m.model_id
    return body


class RestTrackingStore(RestTracesMixin):
    """Implements :class:`bakehouse.store.tracking.base.TrackingStore` by calling a tracking server."""

    def __init__(self, transport: HttpTransport, artifact_uri: str | None = None) -> None:
        self.transport = transport
        self.artifact_uri = artifact_uri

    @classmethod
    def from_uri(cls, uri: str, artifact_uri: str | None = None, **_: Any) -> RestTrackingStore:
        return cls(HttpTransport(uri), artifact_uri)

    @property
    def tracking_uri(self) -> str:
        return self.transport.base_url

    def _call(self, rpc: str, body: dict[str, Any] | None = None, **path_params: str) -> dict[str, Any]:
        return decode_answer(self._call_for_bytes(rpc, body, **path_params))

    def _call_for_bytes(self, rpc: str, body: dict[str, Any] | None = None, **path_params: str) -> bytes:
        endpoint = BY_NAME[rpc]
        path = endpoint.path
        for name, value in path_params.items():
            path = path.replace("{" + name + "}", quote_path(value).replace("/", "%2F"))
        return self.transport.call_for_bytes(
            endpoint.method, f"{API_PREFIX}{path}", _drop_none(body or {}), idempotent=endpoint.safe_to_repeat
        )

    # ---------------------------------------------------------------------------------- experiments
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        out = self._call(
            "CreateExperiment", {"name": name, "artifact_location": artifact_location, "tags": _kv(tags)}
        )
        return str(out["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        return wj.experiment_from_json(
            self._call("GetExperiment", {"experiment_id": str(experiment_id)})["experiment"]
        )

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            out = self._call("GetExperimentByName", {"experiment_name": name})
        except NotFoundError:
            return None
        return wj.experiment_from_json(out["experiment"])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = EXPERIMENTS_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        out = self._call(
            "SearchExperiments",
            {
                "view_type": ViewType.parse(view_type).value,
                "max_results": max_results,
                "filter": filter_string,
                "order_by": list(order_by or []),
                "page_token": page_token,
            },
        )
        return PagedList(
            [wj.experiment_from_json(e) for e in out.get("experiments") or ()],
            out.get("next_page_token") or None,
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._call("DeleteExperiment", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self._call("RestoreExperiment", {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call("UpdateExperiment", {"experiment_id": str(experiment_id), "new_name": new_name})

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._call("SetExperimentTag", {"experiment_id": str(experiment_id), "key": key, "value": value})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._call("DeleteExperimentTag", {"experiment_id": str(experiment_id), "key": key})

    # ----------------------------------------------------------------------------------------- runs
    def create_run(
        self,
        experiment_id: str,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: Sequence[RunTag] | None = None,
        run_name: str | None = None,
    ) -> Run:
        out = self._call(
            "CreateRun",
            {
                "experiment_id": str(experiment_id),
                "user_id": user_id,
                "start_time": start_time,
                "tags": [{"key": t.key, "value": t.value} for t in tags or ()],
                "run_name": run_name,
            },
        )
        return wj.run_from_json(out["run"])

    def get_run(self, run_id: str) -> Run:
        return wj.run_from_json(self._call("GetRun", {"run_id": run_id})["run"])

    def update_run_info(
        self,
        run_id: str,
        run_status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        status = getattr(run_status, "value", run_status)
        out = self._call(
            "UpdateRun",
            {
                "run_id": run_id,
                "run_uuid": run_id,
                "status": status,
                "end_time": end_time,
                "run_name": run_name,
            },
        )
        return wj.run_info_from_json(out["run_info"])

    def delete_run(self, run_id: str) -> None:
        self._call("DeleteRun", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._call("RestoreRun", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """One request, so the server's limits and its all-or-nothing validation apply unchanged.

        (Splitting big batches is the client's job: ``bakehouse.client`` batches before calling a store.)
        """
        body: dict[str, Any] = {"run_id": run_id}
        if metrics:
            body["metrics"] = [_metric_body(x) for x in metrics]
        if params:
            body["params"] = [{"key": x.key, "value": x.value} for x in params]
        if tags:
            body["tags"] = [{"key": x.key, "value": x.value} for x in tags]
        self._call("LogBatch", body)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._call("LogMetric", {"run_id": run_id, "run_uuid": run_id, **_metric_body(metric)})

    def log_param(self, run_id: str, param: Param) -> None:
        self._call("LogParam", {"run_id": run_id, "run_uuid": run_id, "key": param.key, "value": param.value})

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self._call("SetTag", {"run_id": run_id, "run_uuid": run_id, "key": tag.key, "value": tag.value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call("DeleteTag", {"run_id": run_id, "key": key})

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Metric]:
        if max_results is not None:
            out = self._call(
                "GetMetricHistory",
                {
                    "run_id": run_id,
                    "metric_key": metric_key,
                    "max_results": max_results,
                    "page_token": page_token,
                },
            )
            return PagedList(
                wj.history_from_json(out.get("metrics") or (), run_id), out.get("next_page_token") or None
            )
        # everything: follow the pages
        points = []
        token = page_token
        while True:
            out = self._call(
                "GetMetricHistory",
                {
                    "run_id": run_id,
                    "metric_key": metric_key,
                    "max_results": HISTORY_PAGE,
                    "page_token": token,
                },
            )
            points.extend(wj.history_from_json(out.get("metrics") or (), run_id))
            token = out.get("next_page_token") or None
            if not token:
                return PagedList(points, None)

    def iter_metric_history_arrays(self, run_id: str, metric_key: str) -> Iterator[np.ndarray]:
        """The history in chunks of ``RECORD`` arrays from Bakehouse's binary history stream, read as
        they arrive. A server without the stream (MLflow's answers ENDPOINT_NOT_FOUND) is read page by
        page through ``get-history`` instead, one page held at a time."""
        endpoint = BY_NAME["GetMetricHistoryStream"]
        try:
            response = self.transport.send(
                endpoint.method,
                API_PREFIX + endpoint.path,
                params=[("run_id", run_id), ("metric_key", metric_key)],
                stream=True,
            )
        except NotFoundError as exc:
            if exc.code != ErrorCode.ENDPOINT_NOT_FOUND:
                raise
            return history_pages_as_arrays(self, run_id, metric_key)
        return _stream_records(response)

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        metric_key: str,
        max_results: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[Metric]:
        out = self._call(
            "GetMetricHistoryBulkInterval",
            {
                "run_ids": list(run_ids),
                "metric_key": metric_key,
                "max_results": max_results,
                "start_step": start_step,
                "end_step": end_step,
            },
        )
        return [wj.metric_from_json(m) for m in out.get("metrics") or ()]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        answer = self._call_for_bytes(
            "SearchRuns",
            {
                "experiment_ids": [str(e) for e in experiment_ids],
                "filter": filter_string,
                "run_view_type": ViewType.parse(run_view_type).value,
                "max_results": max_results,
                "order_by": list(order_by or []),
                "page_token": page_token,
            },
        )
        with collector_paused():  # a page of runs is tens of thousands of objects, none in a cycle
            out = decode_answer(answer)
            return PagedList(
                [wj.run_from_json(r) for r in out.get("runs") or ()], out.get("next_page_token") or None
            )

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[str] = ()
    ) -> None:
        self._call(
            "LogInputs",
            {
                "run_id": run_id,
                "datasets": [wj.dataset_input_to_json(d) for d in datasets],
                "models": [{"model_id": m} for m in models],
            },
        )

    def log_outputs(self, run_id: str, models: Sequence[ModelOutput]) -> None:
        self._call(
            "LogOutputs",
            {"run_id": run_id, "models": [{"model_id": m.model_id, "step": m.step} for m in models]},
        )

    # -------------------------------------------------------------------------------- logged models
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        out = self._call(
            "CreateLoggedModel",
            {
                "experiment_id": str(experiment_id),
                "name": name,
                "source_run_id": source_run_id,
                "tags": _kv(tags),
                "params": _kv(params),
                "model_type": model_type,
            },
        )
        return wj.logged_model_from_json(out["model"])

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return wj.logged_model_from_json(self._call("GetLoggedModel", {}, model_id=model_id)["model"])

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        status = getattr(status, "value", status)
        out = self._call("FinalizeLoggedModel", {"model_id": model_id, "status": status}, model_id=model_id)
        return wj.logged_model_from_json(out["model"])

    def delete_logged_model(self, model_id: str) -> None:
        self._call("DeleteLoggedModel", {"model_id": model_id}, model_id=model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self._call("SetLoggedModelTags", {"model_id": model_id, "tags": _kv(tags)}, model_id=model_id)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._call("DeleteLoggedModelTag", {}, model_id=model_id, tag_key=key)

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self._call("LogLoggedModelParams", {"model_id": model_id, "params": _kv(params)}, model_id=model_id)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = LOGGED_MODELS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[dict[str, object]] | None = None,
        page_token: str | None = None,
        datasets: Sequence[dict[str, str | None]] | None = None,
    ) -> PagedList[LoggedModel]:
        out = self._call(
            "SearchLoggedModels",
            {
                "experiment_ids": [str(e) for e in experiment_ids],
                "filter": filter_string,
                "datasets": [dict(d) for d in datasets or ()],
                "max_results": max_results,
                "order_by": list(order_by or []),
                "page_token": page_token,
            },
        )
        return PagedList(
            [wj.logged_model_from_json(m) for m in out.get("models") or ()],
            out.get("next_page_token") or None,
        )
