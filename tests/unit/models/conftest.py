"""Fixtures for the model tests: the iris data, a fitted classifier, and models saved on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def iris() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    X, y = load_iris(return_X_y=True, as_frame=True)
    return tuple(train_test_split(X, y, random_state=0))


@pytest.fixture(scope="session")
def iris_lr(iris: tuple[Any, Any, Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    X_train, _, y_train, _ = iris
    return LogisticRegression(max_iter=300).fit(X_train, y_train)


@pytest.fixture(scope="session")
def sklearn_model_dir(tmp_path_factory: pytest.TempPathFactory, iris: Any, iris_lr: Any) -> Path:
    import bakehouse.sklearn

    path = tmp_path_factory.mktemp("models") / "iris"
    bakehouse.sklearn.save_model(iris_lr, path, input_example=iris[1][:5])
    return path
