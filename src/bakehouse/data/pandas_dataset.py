"""Datasets from pandas DataFrames (``from_pandas``), recorded as MLflow's ``PandasDataset`` records them."""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bakehouse.data.dataset import Dataset
from bakehouse.data.digest import compute_pandas_digest
from bakehouse.data.schema import pandas_schema, pandas_schema_json
from bakehouse.data.sources import DatasetSource, code_source, resolve_source
from bakehouse.errors import InvalidParameterError
from bakehouse.models.signature import Schema

if TYPE_CHECKING:
    import pandas as pd


class PandasDataset(Dataset):
    """A DataFrame with an optional target column and predictions column."""

    def __init__(
        self,
        df: pd.DataFrame,
        source: DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        import pandas as pd  # only when a dataset is built

        if not isinstance(df, pd.DataFrame):
            raise InvalidParameterError(f"from_pandas expects a pandas DataFrame, got {type(df).__name__}")
        if targets is not None and targets not in df.columns:
            raise InvalidParameterError(
                f"The specified pandas DataFrame does not contain the specified targets column '{targets}'."
            )
        if predictions is not None and predictions not in df.columns:
            raise InvalidParameterError(
                "The specified pandas DataFrame does not contain the specified predictions column"
                f" '{predictions}'."
            )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return compute_pandas_digest(self._df)

    @property
    def df(self) -> pd.DataFrame:
        return self._df

    @property
    def targets(self) -> str | None:
        return self._targets

    @property
    def predictions(self) -> str | None:
        return self._predictions

    @property
    def profile(self) -> dict[str, Any]:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @cached_property
    def schema(self) -> Schema | None:
        """The column schema, or None where MLflow's inference would fail (e.g. a frame with no columns)."""
        return pandas_schema(self._df)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        schema = self.schema
        out["schema"] = pandas_schema_json(schema) if schema else None
        out["profile"] = json.dumps(self.profile)
        return out


def from_pandas(
    df: pd.DataFrame,
    source: str | DatasetSource | Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """A dataset for ``log_input`` from a DataFrame. ``source`` is a path, a URI or a DatasetSource; without
    one the source is the running code (MLflow's ``code`` source). Name and digest default as in MLflow."""
    resolved = code_source() if source is None else resolve_source(source)
    return PandasDataset(df, resolved, targets=targets, name=name, digest=digest, predictions=predictions)
