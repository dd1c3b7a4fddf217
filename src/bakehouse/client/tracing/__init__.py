"""Tracing for LLM and agent code with MLflow's API: spans recorded in-process, exported in the background."""

from bakehouse.client.tracing.exporter import configure_exporter
from bakehouse.client.tracing.fluent import (
    export_stats,
    flush_trace_async_logging,
    get_current_active_span,
    get_last_active_trace_id,
    get_trace,
    log_expectation,
    log_feedback,
    search_traces,
    start_span,
    trace,
    update_current_trace,
)
from bakehouse.client.tracing.span import LiveSpan

__all__ = [
    "LiveSpan",
    "configure_exporter",
    "export_stats",
    "flush_trace_async_logging",
    "get_current_active_span",
    "get_last_active_trace_id",
    "get_trace",
    "log_expectation",
    "log_feedback",
    "search_traces",
    "start_span",
    "trace",
    "update_current_trace",
]
