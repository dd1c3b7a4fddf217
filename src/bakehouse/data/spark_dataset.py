"""Datasets from Spark DataFrames (``from_spark``), recorded as MLflow's ``SparkDataset`` records them.

The source is MLflow's ``spark`` source (``{"path": ...}``, ``{"table_name": ...}`` or ``{"sql": ...}``),
or the running code when none is given. The digest hashes the DataFrame's logical plan (Spark's
``semanticHash``, as MLflow does) rather than its rows, so building the dataset reads no data.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from bakehouse.data.dataset import Dataset
from bakehouse.data.digest import normalized_md5_digest
from bakehouse.data.sources import DatasetSource, code_source
from bakehouse.errors import InvalidParameterError
from bakehouse.models.signature import ColSpec, Schema, Spec

#: Spark SQL type names (``DataType.typeName()``) -> MLflow column types
_COLUMN_TYPES = {
    "boolean": "boolean",
    "byte": "integer",
    "short": "integer",
    "integer": "integer",
    "long": "long",
    "float": "float",
    "double": "double",
    "string": "string",
    "binary": "binary",
    "date": "datetime",
    "timestamp": "datetime",
    "timestamp_ntz": "datetime",
}


class SparkDatasetSource(DatasetSource):
    """Where a Spark DataFrame came from: a path, a table name or a SQL query (MLflow's type ``spark``)."""

    source_type = "spark"

    def __init__(
        self, path: str | None = None, table_name: str | None = None, sql: str | None = None
    ) -> None:
        if (path, table_name, sql).count(None) != 2:
            raise InvalidParameterError("Must specify exactly one of `path`, `table_name` or `sql`.")
        self.path, self.table_name, self.sql = path, table_name, sql

    def to_dict(self) -> dict[str, Any]:
        if self.path is not None:
            return {"path": self.path}
        if self.table_name is not None:
            return {"table_name": self.table_name}
        return {"sql": self.sql}


class SparkDataset(Dataset):
    """A Spark DataFrame with optional targets and predictions columns."""

    def __init__(
        self,
        df: Any,
        source: DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        for role, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise InvalidParameterError(
                    f"The specified Spark dataset does not contain the specified {role} column '{column}'."
                )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        import numpy as np  # installed with pyspark's pandas support and with bakehouse

        return normalized_md5_digest([np.int64(self._df.semanticHash())])

    @property
    def df(self) -> Any:
        return self._df

    @property
    def targets(self) -> str | None:
        return self._targets

    @property
    def predictions(self) -> str | None:
        return self._predictions

    @cached_property
    def profile(self) -> dict[str, Any]:
        """The row count (MLflow asks Spark for an approximate count within 5 s; this counts exactly)."""
        return {"approx_count": int(self._df.count())}

    @cached_property
    def schema(self) -> Schema | None:
        """The columns as MLflow types; None when a column has a type MLflow's column specs cannot hold."""
        columns: list[Spec] = []
        for field in self._df.schema.fields:
            kind = _COLUMN_TYPES.get(field.dataType.typeName())
            if kind is None:
                return None
            columns.append(ColSpec(kind, field.name))  # required, as MLflow writes it for Spark columns
        return Schema(columns)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        schema = self.schema
        out["schema"] = json.dumps({"mlflow_colspec": schema.to_dict()}) if schema else None
        out["profile"] = json.dumps(self.profile)
        return out


def from_spark(
    df: Any,
    path: str | None = None,
    table_name: str | None = None,
    sql: str | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> SparkDataset:
    """A dataset for ``log_input`` from a Spark DataFrame (MLflow's ``from_spark``; Delta versions are not
    resolved). At most one of ``path``, ``table_name`` and ``sql``; without any the source is the code."""
    if (path, table_name, sql).count(None) < 2:
        raise InvalidParameterError("Must specify at most one of `path`, `table_name`, or `sql`.")
    source: DatasetSource
    if (path, table_name, sql).count(None) == 3:
        source = code_source()
    else:
        source = SparkDatasetSource(path=path, table_name=table_name, sql=sql)
    return SparkDataset(df, source, targets=targets, name=name, digest=digest, predictions=predictions)
