"""The logged-model fluent functions (``bakehouse.search_logged_models``, ...), as ``mlflow.*`` has them.

MLflow 3 models are entities of their own (a LoggedModel with params, tags and metrics) rather than files
inside a run; these functions reach them through the current tracking URI like the rest of the fluent API.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from bakehouse.client import fluent
from bakehouse.client.client import Client
from bakehouse.entities.logged_model import LoggedModel
from bakehouse.entities.page import collect_pages
from bakehouse.errors import InvalidParameterError

_last = threading.local()
_last_any_thread: list[str] = []  # the newest model logged by any thread of this process


def _client() -> Client:
    return fluent._client()


def record_logged_model(model_id: str) -> None:
    """Called by ``log_model``: what ``last_logged_model`` returns."""
    _last.model_id = model_id
    _last_any_thread[:] = [model_id]


def last_logged_model() -> LoggedModel | None:
    """The model most recently logged by this thread (or, if none, by this process), or None."""
    model_id = getattr(_last, "model_id", None) or (_last_any_thread[0] if _last_any_thread else None)
    return _client().get_logged_model(model_id) if model_id else None


def get_logged_model(model_id: str) -> LoggedModel:
    return _client().get_logged_model(model_id)


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    _client().set_logged_model_tags(model_id, {k: str(v) for k, v in tags.items()})


def delete_logged_model_tag(model_id: str, key: str) -> None:
    _client().delete_logged_model_tag(model_id, key)


def log_model_params(params: dict[str, Any], model_id: str | None = None) -> None:
    """Params on a logged model (the last one logged here when ``model_id`` is not given)."""
    if model_id is None:
        last = last_logged_model()
        if last is None:
            raise InvalidParameterError("No model_id given and no model has been logged in this process")
        model_id = last.model_id
    _client().log_model_params(model_id, params)


def search_logged_models(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    datasets: Sequence[dict[str, str | None]] | None = None,
    max_results: int | None = None,
    order_by: Sequence[dict[str, Any]] | None = None,
    output_format: str = "pandas",
) -> Any:
    """Every matching logged model (all pages unless ``max_results`` is given), in the active experiment
    unless ``experiment_ids`` names others; a DataFrame by default or ``output_format="list"``."""
    from bakehouse.client import fluent

    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(f"Unsupported output_format {output_format!r}: use 'pandas' or 'list'")
    ids = [str(e) for e in experiment_ids] if experiment_ids else [fluent._resolve_experiment_id(None)]
    client = _client()
    models: list[LoggedModel] = collect_pages(
        lambda token, n: client.search_logged_models(ids, filter_string, datasets, n, order_by, token),
        max_results,
        100,
    )
    if output_format == "list":
        return models
    return _to_frame(models)


def _to_frame(models: list[LoggedModel]) -> Any:
    import pandas as pd

    columns = [
        "artifact_location",
        "creation_timestamp",
        "experiment_id",
        "last_updated_timestamp",
        "model_id",
        "model_type",
        "name",
        "source_run_id",
        "status",
        "status_message",
        "tags",
        "params",
        "metrics",
    ]
    rows = [{c: getattr(m, c, None) for c in columns} for m in models]
    return pd.DataFrame(rows, columns=columns)
