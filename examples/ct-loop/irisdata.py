"""The seeds' iris data, split once: a fixed holdout every candidate is judged on, and training rows that
arrive in versions (a small first batch, then all of them, and a corrupted batch with shuffled labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TARGET = "species"


def _split() -> tuple[pd.DataFrame, pd.DataFrame]:
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X, columns=FEATURES).assign(**{TARGET: y})
    train, holdout = train_test_split(frame, test_size=0.3, random_state=42, stratify=frame[TARGET])
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def holdout() -> pd.DataFrame:
    """Never trained on: the same rows decide about every model."""
    return _split()[1]


def version(kind: str) -> pd.DataFrame:
    """``small``: 4 rows per species; ``full``: every training row; ``shuffled``: all rows, labels permuted."""
    train = _split()[0]
    if kind == "small":
        return train.groupby(TARGET, group_keys=False).head(4).reset_index(drop=True)
    if kind == "full":
        return train
    if kind == "shuffled":
        labels = np.random.default_rng(0).permutation(train[TARGET].to_numpy())
        return train.assign(**{TARGET: labels})
    raise ValueError(f"unknown data version {kind!r}: small, full or shuffled")
