"""Served Keras models on the torch backend: small arrays answered by a per-shape trace, bit for bit as Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flavor_cases import CASES

pytest.importorskip("keras")
pytest.importorskip("torch")


def _served(tmp_path: Path, keras_model: Any) -> Any:
    import bakehouse.keras
    import bakehouse.pyfunc

    bakehouse.keras.save_model(keras_model, tmp_path / "m")
    impl = bakehouse.pyfunc.load_model(str(tmp_path / "m"))._model_impl
    impl.prepare_for_serving()
    return impl


def test_traced_small_batches_equal_keras_exactly(tmp_path: Path) -> None:
    import keras

    if keras.backend.backend() != "torch":
        pytest.fail(
            f"these tests expect Keras on torch (the backend installed here), got {keras.backend.backend()}"
        )
    impl = _served(tmp_path, CASES["keras"].build())
    raw = impl.get_raw_model()
    rng = np.random.default_rng(0)
    for rows, dtype in [(1, np.float64), (1, np.float64), (3, np.float32), (1, np.int64)]:
        x = (rng.random((rows, 4)) * 3).astype(dtype)
        expected = raw.predict_on_batch(x)
        for _ in range(3):  # the first call makes the trace, later ones replay it
            got = impl.predict(x)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), (rows, dtype)
    assert sorted(impl._traced.traced_shapes) == [(1, 4), (1, 4), (3, 4)]  # (1, 4) as float64 and int64
    frame = pd.DataFrame(rng.random((2, 4)), columns=list("abcd"), index=[7, 9])
    out = impl.predict(frame)
    pd.testing.assert_frame_equal(out, pd.DataFrame(raw.predict_on_batch(frame.to_numpy()), index=[7, 9]))


def test_shapes_beyond_the_limit_and_large_batches_use_keras(tmp_path: Path) -> None:
    from bakehouse.models.flavors.keras.traced import MAX_TRACED_SHAPES
    from bakehouse.models.flavors.small_batches import SINGLE_THREAD_ROWS

    impl = _served(tmp_path, CASES["keras"].build())
    raw = impl.get_raw_model()
    for rows in range(1, MAX_TRACED_SHAPES + 3):
        x = np.full((rows, 4), 0.5)
        assert np.array_equal(impl.predict(x), raw.predict_on_batch(x))
    big = np.full((SINGLE_THREAD_ROWS + 1, 4), 0.25)
    assert np.array_equal(impl.predict(big), raw.predict_on_batch(big))
    assert len(impl._traced.traced_shapes) == MAX_TRACED_SHAPES


def test_models_with_custom_layers_are_not_traced(tmp_path: Path) -> None:
    import keras

    from bakehouse.models.flavors.keras.traced import traceable

    @keras.saving.register_keras_serializable(package="bakehouse_tests")
    class Clip(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return keras.ops.clip(x, 0.0, 1.0)

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), Clip()])
    assert not traceable(model)
    assert traceable(CASES["keras"].build())
