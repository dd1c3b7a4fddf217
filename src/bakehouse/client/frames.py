"""Runs as a pandas DataFrame, in the shape ``mlflow.search_runs`` returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakehouse.entities import Run


def runs_to_dataframe(runs: Sequence[Run]) -> Any:
    import pandas as pd  # heavy: only when a DataFrame is asked for

    info_columns: dict[str, list[Any]] = {
        "run_id": [],
        "experiment_id": [],
        "status": [],
        "artifact_uri": [],
        "start_time": [],
        "end_time": [],
    }
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    param_keys = sorted({k for r in runs for k in r.data.params})
    tag_keys = sorted({k for r in runs for k in r.data.tags})
    metrics: dict[str, list[Any]] = {k: [] for k in metric_keys}
    params: dict[str, list[Any]] = {k: [] for k in param_keys}
    tags: dict[str, list[Any]] = {k: [] for k in tag_keys}
    for run in runs:
        info = run.info
        info_columns["run_id"].append(info.run_id)
        info_columns["experiment_id"].append(info.experiment_id)
        info_columns["status"].append(info.status)
        info_columns["artifact_uri"].append(info.artifact_uri)
        info_columns["start_time"].append(info.start_time)
        info_columns["end_time"].append(info.end_time)
        for k in metric_keys:
            metrics[k].append(run.data.metrics.get(k))
        for k in param_keys:
            params[k].append(run.data.params.get(k))
        for k in tag_keys:
            tags[k].append(run.data.tags.get(k))
    data: dict[str, Any] = dict(info_columns)
    data["start_time"] = pd.to_datetime(info_columns["start_time"], unit="ms", utc=True)
    data["end_time"] = pd.to_datetime(info_columns["end_time"], unit="ms", utc=True)
    for k in metric_keys:
        data["metrics." + k] = pd.array(metrics[k], dtype="float64") if runs else []
    for k in param_keys:
        data["params." + k] = params[k]
    for k in tag_keys:
        data["tags." + k] = tags[k]
    return pd.DataFrame(data)
