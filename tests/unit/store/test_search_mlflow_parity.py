"""Differential test: every filter/order_by the official MLflow parser accepts means the same thing to ours.

Uses the pinned ``mlflow`` (a test dependency) as the reference; skipped if it is not installed.
"""

from __future__ import annotations

from typing import Any

import pytest

from bakehouse.errors import InvalidParameterError
from bakehouse.store.search import And, Comparison, parse_filter, parse_order_by

search_utils = pytest.importorskip("mlflow.utils.search_utils")
MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException

_KIND = {
    "parameter": "param",
    "metric": "metric",
    "tag": "tag",
    "attribute": "attribute",
    "dataset": "dataset",
}
_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}


def _mlflow_comparisons(utils: Any, text: str) -> list[Comparison]:
    out = []
    for c in utils.parse_search_filter(text):
        kind = _KIND[c["type"]]
        key = _ALIASES.get(c["key"], c["key"]) if kind == "attribute" else c["key"]
        value = c["value"]
        if kind == "metric":
            value = float(value)
        out.append(Comparison(kind, key, c["comparator"].upper(), value))
    return out


def _ours(entity: str, text: str) -> list[Comparison]:
    tree = parse_filter(entity, text)
    if tree is None:
        return []
    return list(tree.items) if isinstance(tree, And) else [tree]


RUN_FILTERS = [
    "metrics.acc > 0.9",
    "metrics.acc>=1e-3",
    "metric.`my metric` < -2.5",
    "params.lr = '0.01'",
    'param.lr != "x"',
    "parameters.`a b` LIKE '%x%'",
    "tags.`mlflow.source.type` = 'LOCAL'",
    "tags.mlflow.runName ILIKE 'Run%'",
    "tags.\"quoted key\" = 'v'",
    "params.p IS NULL",
    "tags.t is not null",
    "attributes.status = 'FINISHED'",
    "status != 'RUNNING'",
    "run_name = 'my run'",
    "`run name` LIKE 'a%'",
    "\"Run Name\" = 'x'",
    "attribute.run_id IN ('a', 'b', 'c')",
    "run_id NOT IN ('a')",
    "attr.user_id = 'bob'",
    "run.artifact_uri LIKE 's3://%'",
    "start_time > 1700000000000",
    "end_time <= 5",
    "created >= 100",
    "Created < 2.5",
    "datasets.name = 'train'",
    "dataset.digest != 'abc'",
    "datasets.context IN ('training', 'eval')",
    "metrics.acc > 0.9 AND params.lr = '0.01' AND tags.t != 'x'",
    "metrics.a = 1 and metrics.b = 2",
    "tags.t = ''",
    "tags.t = 'ünïcødé'",
]


@pytest.mark.parametrize("text", RUN_FILTERS)
def test_run_filters_mean_what_mlflow_means(text: str) -> None:
    assert _ours("run", text) == _mlflow_comparisons(search_utils.SearchUtils, text)


ENTITY_FILTERS = [
    ("experiment", search_utils.SearchExperimentsUtils, "name = 'exp'"),
    ("experiment", search_utils.SearchExperimentsUtils, "name ILIKE '%exp%'"),
    ("experiment", search_utils.SearchExperimentsUtils, "tags.team = 'vision' AND creation_time > 5"),
    ("experiment", search_utils.SearchExperimentsUtils, "last_update_time <= 5"),
    ("experiment", search_utils.SearchExperimentsUtils, "tags.k IS NULL"),
    ("experiment", search_utils.SearchExperimentsUtils, "experiment_id IN ('1', '2')"),
    ("registered_model", search_utils.SearchModelUtils, "name = 'm'"),
    ("registered_model", search_utils.SearchModelUtils, "name LIKE 'm%' AND tags.k = 'v'"),
    ("registered_model", search_utils.SearchModelUtils, "name IN ('a', 'b')"),
    ("model_version", search_utils.SearchModelVersionUtils, "name = 'm' AND version_number > 2"),
    ("model_version", search_utils.SearchModelVersionUtils, "run_id IN ('r1', 'r2')"),
    ("model_version", search_utils.SearchModelVersionUtils, "source_path LIKE 'models:/%'"),
    ("model_version", search_utils.SearchModelVersionUtils, "tags.k ILIKE 'v'"),
]


@pytest.mark.parametrize(("entity", "utils", "text"), ENTITY_FILTERS)
def test_registry_and_experiment_filters_mean_what_mlflow_means(entity: str, utils: Any, text: str) -> None:
    assert _ours(entity, text) == _mlflow_comparisons(utils, text)


MLFLOW_REJECTS = [
    "metrics.acc > 'x'",
    "params.p = 1",
    "metrics.acc LIKE '1'",
    "status IN ('a')",
    "unknown_attr = 'x'",
    "metricz.acc > 1",
    "metrics.acc IS NULL",
    "run_id IN ()",
    "datasets.nope = 'x'",
    "start_time = 'x'",
]


@pytest.mark.parametrize("text", MLFLOW_REJECTS)
def test_what_mlflow_refuses_we_refuse(text: str) -> None:
    with pytest.raises(MlflowException):
        _mlflow_strict(text)
    with pytest.raises(InvalidParameterError):
        parse_filter("run", text)


def _mlflow_strict(text: str) -> None:
    """MLflow checks operators when it applies a filter, not when it parses one: do both."""
    for comparison in search_utils.SearchUtils.parse_search_filter(text):
        kind, key, op = comparison["type"], comparison["key"], comparison["comparator"].upper()
        key = search_utils.SearchUtils.translate_key_alias(key)
        if not (
            search_utils.SearchUtils.is_metric(kind, op)
            or search_utils.SearchUtils.is_param(kind, op)
            or search_utils.SearchUtils.is_tag(kind, op)
            or search_utils.SearchUtils.is_string_attribute(kind, key, op)
            or search_utils.SearchUtils.is_numeric_attribute(kind, key, op)
            or search_utils.SearchUtils.is_dataset(kind, op)
        ):
            raise MlflowException(f"Invalid comparison {comparison}")


@pytest.mark.parametrize(
    "clause",
    [
        "metrics.acc",
        "metrics.acc DESC",
        "params.lr asc",
        "tags.`mlflow.runName` DESC",
        "start_time DESC",
        "attributes.run_name",
        "created",
        "metrics.`my metric` DESC",
        "status",
    ],
)
def test_run_order_by_means_what_mlflow_means(clause: str) -> None:
    kind, key, ascending = search_utils.SearchUtils.parse_order_by_for_search_runs(clause)
    (ours,) = parse_order_by("run", [clause])
    assert (ours.kind, ours.key, ours.ascending) == (
        _KIND[kind],
        _ALIASES.get(key, key) if kind == "attribute" else key,
        ascending,
    )
