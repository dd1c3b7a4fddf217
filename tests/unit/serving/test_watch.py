"""The registry watcher on a real SQLite registry: swaps on an alias move, never swaps in something broken."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from bakehouse.client.client import Client
from bakehouse.serving.registry_versions import is_watchable, pinned_uri
from bakehouse.serving.watch import RegistryWatcher, load_watched


def _save(path, value):
    from bakehouse.sklearn import save_model

    save_model(
        DummyClassifier(strategy="constant", constant=value).fit(np.zeros((2, 1)), [1, 2]),
        path,
        pip_requirements=[],
    )
    return str(path)


@pytest.fixture
def registry(tmp_tracking_uri, tmp_path):
    client = Client(tracking_uri=tmp_tracking_uri)
    client.register_model(_save(tmp_path / "v1", 1), "iris")
    client.register_model(_save(tmp_path / "v2", 2), "iris")
    client.set_registered_model_alias("iris", "champion", "1")
    return client


def _predict(holder):
    return list(holder.current.model.predict(pd.DataFrame({"x": [0.0]})))


def test_watcher_swaps_when_the_alias_moves(registry):
    holder = load_watched("models:/iris@champion")
    assert (holder.current.version, _predict(holder)) == ("1", [1])
    watcher = RegistryWatcher(holder, "models:/iris@champion", interval=60)
    assert watcher.check_once() is False  # nothing moved
    registry.set_registered_model_alias("iris", "champion", "2")
    assert watcher.check_once() is True
    assert (holder.current.version, holder.current.uri, _predict(holder)) == (
        "2",
        "models:/iris@champion",
        [2],
    )


def test_a_version_that_fails_to_load_is_not_swapped_in(registry, tmp_path):
    holder = load_watched("models:/iris@champion")
    broken = registry.create_model_version("iris", str(tmp_path / "does-not-exist"))
    registry.set_registered_model_alias("iris", "champion", broken.version)
    watcher = RegistryWatcher(holder, "models:/iris@champion", interval=60)
    assert watcher.check_once() is False
    assert (holder.current.version, _predict(holder)) == ("1", [1])


def test_a_deleted_alias_keeps_the_current_version_serving(registry):
    holder = load_watched("models:/iris@champion")
    registry.delete_registered_model_alias("iris", "champion")
    assert RegistryWatcher(holder, "models:/iris@champion", interval=60).check_once() is False
    assert holder.current.version == "1"


def test_which_uris_can_be_watched():
    assert is_watchable("models:/iris@champion")
    assert is_watchable("models:/iris/Production")
    assert is_watchable("models:/iris/latest")
    assert not is_watchable("models:/iris/3")
    assert not is_watchable("models:/m-0123abcd")
    assert not is_watchable("runs:/abc/model")
    assert pinned_uri("models:/iris@champion", "7") == "models:/iris/7"
