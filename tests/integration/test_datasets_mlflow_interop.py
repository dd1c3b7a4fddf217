"""Dataset inputs through a real ``bakehouse server``, both ways.

What Bakehouse logs, the official MLflow client reads as the dataset MLflow would have logged; what MLflow
logs, Bakehouse reads back as its own dataset."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bakehouse.data as bd
from bakehouse.client.client import Client

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import DatasetInput as MlflowDatasetInput
from mlflow.entities import InputTag

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"sepal_length": [5.1, 4.9, np.nan], "label": ["setosa", "setosa", "virginica"]})


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = fn(*args, **kwargs)
        ds.to_dict()
    return ds


def test_datasets_round_trip_between_bakehouse_and_the_mlflow_client(bakehouse_server: Any) -> None:
    url = bakehouse_server().url
    ours_client, theirs_client = Client(url), mlflow.MlflowClient(url)
    experiment_id = ours_client.create_experiment("datasets")
    features, targets = np.ones((4, 2)), np.arange(4)

    # Bakehouse logs; MLflow reads exactly the entity it would have built itself.
    run_id = ours_client.create_run(experiment_id).info.run_id
    ours_pd = bd.from_pandas(_frame(), name="iris", targets="label", source="/data/iris.csv")
    ours_np = bd.from_numpy(features, targets=targets, source="s3://bucket/iris.npz")
    ours_client.log_inputs(
        run_id, [ours_pd.to_dataset_input(context="training", tags={"k": "v"}), ours_np.to_dataset_input()]
    )
    read = {d.dataset.digest: d for d in theirs_client.get_run(run_id).inputs.dataset_inputs}
    theirs_pd = _quiet(
        mlflow.data.from_pandas, _frame(), name="iris", targets="label", source="/data/iris.csv"
    )
    theirs_np = _quiet(mlflow.data.from_numpy, features, targets=targets, source="s3://bucket/iris.npz")
    assert read[theirs_pd.digest].dataset == theirs_pd._to_mlflow_entity()
    assert read[theirs_np.digest].dataset == theirs_np._to_mlflow_entity()
    assert {(t.key, t.value) for t in read[theirs_pd.digest].tags} == {
        ("k", "v"),
        ("mlflow.data.context", "training"),
    }
    assert mlflow.data.get_source(read[theirs_pd.digest]).to_json() == '{"uri": "/data/iris.csv"}'

    # MLflow logs; Bakehouse reads exactly the input it would have built itself.
    run_id = theirs_client.create_run(experiment_id).info.run_id
    theirs_client.log_inputs(
        run_id, [MlflowDatasetInput(theirs_pd._to_mlflow_entity(), [InputTag("mlflow.data.context", "eval")])]
    )
    (stored,) = ours_client.get_run(run_id).inputs.dataset_inputs
    assert stored == ours_pd.to_dataset_input(context="eval")
    assert bd.get_source(stored) == bd.LocalArtifactDatasetSource("/data/iris.csv")
