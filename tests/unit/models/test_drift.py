"""Drift statistics on a fixed seed: shifted inputs are flagged, unshifted ones are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bakehouse.errors import InvalidParameterError
from bakehouse.models.drift import Thresholds, compare, psi_numeric

SEED = 20261206


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0, scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sepal_length": rng.normal(5.8, 0.8, n),
            "petal_length": rng.normal(3.8 + shift, 1.7 * scale, n),
            "petal_width": rng.gamma(2.0, 0.6, n),
            "site": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def test_the_same_distribution_is_not_flagged() -> None:
    rng = np.random.default_rng(SEED)
    reference, current = _frame(rng, 2000), _frame(rng, 600)
    report = compare(reference, current)
    assert not report.drifted, report.to_json()
    assert all(f.psi < 0.1 for f in report.features)
    assert {f.kind for f in report.features} == {"numeric", "categorical"}


def test_a_shifted_feature_is_flagged_and_only_that_one() -> None:
    rng = np.random.default_rng(SEED)
    reference = _frame(rng, 2000)
    current = _frame(rng, 600, shift=1.0)
    report = compare(reference, current)
    assert report.drifted and report.drifted_features == ["petal_length"]
    (petal,) = [f for f in report.features if f.feature == "petal_length"]
    assert petal.psi >= 0.2 and petal.ks_statistic is not None and petal.ks_statistic > 0.2
    assert petal.ks_pvalue is not None and petal.ks_pvalue < 1e-6
    assert petal.current_mean is not None and petal.reference_mean is not None
    assert petal.current_mean - petal.reference_mean == pytest.approx(1.0, abs=0.2)


def test_a_changed_category_mix_is_flagged() -> None:
    rng = np.random.default_rng(SEED)
    reference = _frame(rng, 2000)
    current = _frame(rng, 600).assign(site=rng.choice(["north", "south", "east"], 600, p=[0.1, 0.2, 0.7]))
    assert compare(reference, current).drifted_features == ["site"]


def test_a_moderate_shift_is_caught_by_ks_where_psi_stays_small() -> None:
    rng = np.random.default_rng(SEED)
    reference = _frame(rng, 3000)
    current = _frame(rng, 1500, shift=0.4)
    report = compare(reference, current, ["petal_length"])
    (petal,) = report.features
    assert petal.psi < 0.1 and petal.drifted
    assert petal.ks_statistic is not None and petal.ks_statistic >= 0.1
    strict = compare(reference, current, ["petal_length"], Thresholds(psi=0.5, ks_statistic=0.5))
    assert not strict.drifted  # the thresholds are what decides, and they are recorded
    assert strict.to_dict()["thresholds"] == {"psi": 0.5, "ks_statistic": 0.5, "ks_alpha": 0.05}


def test_psi_is_zero_for_identical_samples_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(SEED)
    base = rng.normal(size=5000)
    values = [psi_numeric(base, base + shift) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-12)
    assert values == sorted(values) and values[-1] > 0.5


def test_too_little_data_or_no_shared_column_is_refused() -> None:
    rng = np.random.default_rng(SEED)
    with pytest.raises(InvalidParameterError, match="at least 20"):
        compare(_frame(rng, 500), _frame(rng, 5))
    with pytest.raises(InvalidParameterError, match="share no column"):
        compare(_frame(rng, 500), pd.DataFrame({"other": range(50)}))
