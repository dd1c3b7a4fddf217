"""The trace methods of ``Client`` (MlflowClient's names), over any tracking store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakehouse.entities.trace import Assessment, Trace, TraceInfo
from bakehouse.store.tracking.base import TrackingStore

#: Traces per search request (MLflow's servers refuse more than 500) and per batch read of spans.
_SEARCH_PAGE = 500
_BATCH_GET = 100


class TracesClientMixin:
    tracking_store: TrackingStore

    def get_trace(self, trace_id: str) -> Trace:
        return self.tracking_store.get_trace(trace_id)

    def get_trace_info(self, trace_id: str) -> TraceInfo:
        return self.tracking_store.get_trace_info(trace_id)

    def search_traces(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        include_spans: bool = True,
    ) -> list[Trace]:
        """Every matching trace (at most ``max_results``), with spans unless ``include_spans=False``."""
        infos: list[TraceInfo] = []
        token: str | None = None
        while max_results is None or len(infos) < max_results:
            wanted = _SEARCH_PAGE if max_results is None else min(_SEARCH_PAGE, max_results - len(infos))
            page, token = self.tracking_store.search_traces(
                list(experiment_ids), filter_string, wanted, list(order_by or []), token
            )
            infos.extend(page)
            if not token or not page:
                break
        if not include_spans:
            return [Trace(info, []) for info in infos]
        spans: dict[str, Trace] = {}
        ids = [i.trace_id for i in infos]
        for start in range(0, len(ids), _BATCH_GET):
            for trace in self.tracking_store.batch_get_traces(ids[start : start + _BATCH_GET]):
                spans[trace.info.trace_id] = trace
        return [Trace(info, spans[info.trace_id].spans if info.trace_id in spans else []) for info in infos]

    def set_trace_tag(self, trace_id: str, key: str, value: Any) -> None:
        self.tracking_store.set_trace_tag(trace_id, key, str(value))

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        self.tracking_store.delete_trace_tag(trace_id, key)

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        return int(
            self.tracking_store.delete_traces(experiment_id, max_timestamp_millis, max_traces, trace_ids)
        )

    def link_traces_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        self.tracking_store.link_traces_to_run(list(trace_ids), run_id)

    def log_assessment(self, assessment: Assessment) -> Assessment:
        return self.tracking_store.create_assessment(assessment)

    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment:
        return self.tracking_store.get_assessment(trace_id, assessment_id)

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        self.tracking_store.delete_assessment(trace_id, assessment_id)
