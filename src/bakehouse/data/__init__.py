"""Dataset tracking: ``from_pandas`` / ``from_numpy`` build what ``log_input`` records on a run.

Names, digests, source types, source/schema/profile JSON are MLflow's (``mlflow.data``), so a dataset logged
by Bakehouse looks the same in MLflow's client and UI, and one logged by MLflow reads back the same here.
Nothing heavy is imported until a dataset is built: pandas and numpy load inside the functions that need them.
"""

from __future__ import annotations

from typing import Any

from bakehouse.data.dataset import CONTEXT_TAG, Dataset
from bakehouse.data.numpy_dataset import NumpyDataset, from_numpy
from bakehouse.data.pandas_dataset import PandasDataset, from_pandas
from bakehouse.data.sources import (
    CodeDatasetSource,
    DatasetSource,
    FileSystemDatasetSource,
    ForeignDatasetSource,
    HTTPDatasetSource,
    LocalArtifactDatasetSource,
    resolve_source,
    source_from_json,
)
from bakehouse.entities.run import DatasetInput
from bakehouse.errors import InvalidParameterError


def get_source(dataset: Dataset | DatasetInput | Any) -> DatasetSource:
    """The source of a dataset, or of a run's dataset input (parsed from its stored type and JSON), as
    ``mlflow.data.get_source``. MLflow's own ``Dataset`` / ``DatasetInput`` objects are accepted too."""
    if isinstance(dataset, Dataset):
        return dataset.source
    if isinstance(dataset, DatasetInput):
        return source_from_json(dataset.source, dataset.source_type)
    inner = getattr(dataset, "dataset", None)  # mlflow.entities.DatasetInput wraps an entities.Dataset
    entity = inner if inner is not None else dataset
    if isinstance(getattr(entity, "source", None), str) and isinstance(
        getattr(entity, "source_type", None), str
    ):
        return source_from_json(entity.source, entity.source_type)
    if hasattr(entity, "source") and hasattr(entity, "to_dict"):  # an mlflow.data Dataset
        return resolve_source(entity.source)
    raise InvalidParameterError(
        f"Unrecognized dataset type {type(dataset).__name__}: expected a bakehouse.data Dataset or a run's"
        " DatasetInput"
    )


__all__ = [
    "CONTEXT_TAG",
    "CodeDatasetSource",
    "Dataset",
    "DatasetSource",
    "FileSystemDatasetSource",
    "ForeignDatasetSource",
    "HTTPDatasetSource",
    "LocalArtifactDatasetSource",
    "NumpyDataset",
    "PandasDataset",
    "from_numpy",
    "from_pandas",
    "from_spark",
    "get_source",
    "resolve_source",
    "source_from_json",
]


def from_spark(df: Any, **kwargs: Any) -> Any:
    """A dataset from a Spark DataFrame (MLflow's ``from_spark``): see :mod:`bakehouse.data.spark_dataset`."""
    from bakehouse.data.spark_dataset import from_spark as build  # keeps pyspark-free imports light

    return build(df, **kwargs)
