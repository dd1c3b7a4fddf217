"""Dataset sources: a string or path resolves as MLflow resolves it, and a stored input parses back."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bakehouse.data as bd
from bakehouse.entities.run import DatasetInput
from bakehouse.errors import InvalidParameterError

pytestmark = pytest.mark.timeout(120)

RAW_SOURCES: list[Any] = [
    "/tmp/iris.csv",
    "iris.csv",
    "~/data.csv",
    "",
    "//host/share/x",
    "file:///tmp/iris.csv",
    "file://localhost/tmp/x",
    "file://remote-host/x",
    "https://example.com/iris.csv",
    "HTTP://example.com/x",
    "s3://bucket/key",
    "S3://bucket/key",
    "s3:///key",
    "gs://b/k",
    "wasbs://c@a.blob.core.windows.net/k",
    "abfss://c@a.dfs.core.windows.net/k",
    "ftp://h/p",
    "sftp://h/p",
    "hdfs://h/p",
    "viewfs://h/p",
    "r2://b/k",
    "b2://b/k",
    "runs:/abc/model",
    "models:/m/1",
    "mlflow-artifacts:/x",
    "dbfs:/x",
    "s3a://b/k",
    "foo://bar",
    "foo:bar",
    "C:\\data\\x.csv",
    "localhost:5000/x",
    "http://[bad",
    Path("/tmp/p.csv"),
    Path("rel/p.csv"),
    Path("s3://b/k"),
    5,
]


def _mlflow_resolve(raw: Any) -> tuple[str, str] | None:
    pytest.importorskip("mlflow")
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.exceptions import MlflowException

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow warns that "" and "file" both map to the local source
        try:
            source = resolve_dataset_source(raw)
        except MlflowException:
            return None
    return source._get_source_type(), source.to_json()


@pytest.mark.parametrize("raw", RAW_SOURCES, ids=repr)
def test_raw_source_resolves_as_in_mlflow(raw: Any) -> None:
    expected = _mlflow_resolve(raw)
    if expected is None:
        with pytest.raises(InvalidParameterError, match="Could not find a source"):
            bd.resolve_source(raw)
    else:
        source = bd.resolve_source(raw)
        assert (source.source_type, source.to_json()) == expected


def test_source_kinds_and_attributes() -> None:
    local = bd.resolve_source("/tmp/iris.csv")
    assert isinstance(local, bd.LocalArtifactDatasetSource) and local.uri == "/tmp/iris.csv"
    http = bd.resolve_source("https://example.com/iris.csv")
    assert isinstance(http, bd.HTTPDatasetSource) and http.url == "https://example.com/iris.csv"
    s3 = bd.resolve_source("s3://b/k")
    assert isinstance(s3, bd.FileSystemDatasetSource) and (s3.uri, s3.source_type) == ("s3://b/k", "s3")


@pytest.mark.parametrize(
    "source", ["/tmp/iris.csv", "https://example.com/iris.csv", "s3://bucket/iris.csv", None], ids=repr
)
def test_get_source_parses_a_stored_input_back(source: str | None) -> None:
    ds = bd.from_pandas(pd.DataFrame({"a": [1]}), source=source)
    di = ds.to_dataset_input(context="training")
    parsed = bd.get_source(di)
    assert parsed == ds.source == bd.get_source(ds)
    assert type(parsed) is type(ds.source)
    assert (parsed.source_type, parsed.to_json()) == (di.source_type, di.source)


def test_get_source_agrees_with_mlflow_on_stored_inputs() -> None:
    mlflow_data = pytest.importorskip("mlflow.data")
    from mlflow.entities import Dataset as DatasetEntity

    for source in ["/tmp/iris.csv", "https://example.com/iris.csv", "gs://bucket/iris.csv"]:
        di = bd.from_numpy(np.arange(3), source=source).to_dataset_input()
        entity = DatasetEntity(di.name, di.digest, di.source_type, di.source, di.schema, di.profile)
        theirs = mlflow_data.get_source(entity)
        ours = bd.get_source(di)
        assert (ours.source_type, ours.to_dict()) == (theirs._get_source_type(), theirs.to_dict())
        assert bd.get_source(entity) == ours  # MLflow's entity is accepted as well


def test_mlflow_source_objects_are_accepted() -> None:
    pytest.importorskip("mlflow")
    from mlflow.data.http_dataset_source import HTTPDatasetSource

    ds = bd.from_pandas(pd.DataFrame({"a": [1]}), source=HTTPDatasetSource("https://x/y.csv"))
    assert (ds.source.source_type, ds.source.to_json()) == ("http", '{"url": "https://x/y.csv"}')


def test_unknown_source_types_round_trip_unchanged() -> None:
    payload = {"delta_table_name": "main.db.iris", "delta_table_version": 3}
    source = bd.source_from_json(json.dumps(payload), "delta_table")
    assert isinstance(source, bd.ForeignDatasetSource)
    assert (source.source_type, source.to_dict()) == ("delta_table", payload)
    ds = bd.from_pandas(pd.DataFrame({"a": [1]}), source=source)
    assert ds.to_dataset_input().source_type == "delta_table"


def test_bad_stored_sources_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match='"uri"'):
        bd.source_from_json("{}", "local")
    with pytest.raises(InvalidParameterError, match='"url"'):
        bd.source_from_json('{"uri": "x"}', "http")
    with pytest.raises(InvalidParameterError, match="JSON"):
        bd.source_from_json("not json", "local")
    with pytest.raises(InvalidParameterError, match="Unrecognized dataset type"):
        bd.get_source(42)
    di = DatasetInput("d", "abc", "code", json.dumps({"tags": {"mlflow.user": "u"}}))
    assert bd.get_source(di) == bd.CodeDatasetSource({"mlflow.user": "u"})


def test_importing_bakehouse_data_loads_neither_pandas_nor_numpy() -> None:
    code = "import sys, bakehouse.data; print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
