"""Data drift: do the inputs a model is served look like the data it was trained on?

Per feature, two statistics compare the served inputs (*current*) with the training data (*reference*):

- **PSI**, the population stability index: the reference is cut into 10 quantile bins (categories for
  non-numeric features); PSI = sum((cur% - ref%) * ln(cur% / ref%)), with empty bins floored at 0.01%.
  The usual reading: below 0.1 stable, 0.1-0.2 a moderate shift, **0.2 or more a significant shift**.
- **KS**, the two-sample Kolmogorov-Smirnov test (numeric features): the largest gap D between the two
  empirical distributions, and its p-value.

A feature has drifted when ``PSI >= 0.2``, or when ``KS D >= 0.1`` with ``p < 0.05`` (a shift that is both
sizeable and unlikely to be sampling noise). The thresholds are parameters; the report records the ones used.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bakehouse.errors import InvalidParameterError

PSI_THRESHOLD = 0.2
KS_THRESHOLD = 0.1
KS_ALPHA = 0.05
BINS = 10
_FLOOR = 1e-4
MIN_ROWS = 20


@dataclass(frozen=True)
class Thresholds:
    psi: float = PSI_THRESHOLD
    ks_statistic: float = KS_THRESHOLD
    ks_alpha: float = KS_ALPHA


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # "numeric" | "categorical"
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_mean: float | None = None
    current_mean: float | None = None


@dataclass
class DriftReport:
    features: list[FeatureDrift]
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def drifted(self) -> bool:
        return any(f.drifted for f in self.features)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "drifted_features": self.drifted_features,
            "thresholds": asdict(self.thresholds),
            "features": [asdict(f) for f in self.features],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def metrics(self) -> dict[str, float]:
        """Per feature ``drift.psi.<f>``, ``drift.ks_statistic.<f>``, ``drift.ks_pvalue.<f>``; and totals."""
        out: dict[str, float] = {"drift.features_drifted": float(len(self.drifted_features))}
        for f in self.features:
            out[f"drift.psi.{f.feature}"] = f.psi
            if f.ks_statistic is not None and f.ks_pvalue is not None:
                out[f"drift.ks_statistic.{f.feature}"] = f.ks_statistic
                out[f"drift.ks_pvalue.{f.feature}"] = f.ks_pvalue
        out["drift.psi.max"] = max((f.psi for f in self.features), default=0.0)
        return out


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype=float)
    return np.asarray(np.maximum(shares, _FLOOR), dtype=float)


def _edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Decile edges of the reference, moved half-way to the next distinct value: measurements rounded to a
    grid (iris' 0.1 cm) then never sit exactly on an edge, where a tiny difference would flip their bin."""
    values = np.unique(reference)
    edges = []
    for q in np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])):
        above = values[values > q]
        if above.size:
            below = values[values <= q].max()
            edges.append((below + above.min()) / 2)
    return np.unique(np.array(edges, dtype=float))


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    cut = np.concatenate([[-np.inf], _edges(reference, bins), [np.inf]])
    ref = _proportions(np.histogram(reference, cut)[0].astype(float))
    cur = _proportions(np.histogram(current, cut)[0].astype(float))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_categorical(reference: pd.Series, current: pd.Series) -> float:
    categories = sorted(set(reference.astype(str)) | set(current.astype(str)))
    ref = reference.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    cur = current.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    ref, cur = _proportions(ref), _proportions(cur)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _feature(name: str, reference: pd.Series, current: pd.Series, thresholds: Thresholds) -> FeatureDrift:
    from scipy import stats  # installed with scikit-learn

    ref, cur = reference.dropna(), current.dropna()
    if (
        pd.api.types.is_numeric_dtype(ref)
        and pd.api.types.is_numeric_dtype(cur)
        and not pd.api.types.is_bool_dtype(ref)
    ):
        r, c = ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)
        psi = psi_numeric(r, c)
        test = stats.ks_2samp(r, c)
        statistic, pvalue = float(test.statistic), float(test.pvalue)
        drifted = psi >= thresholds.psi or (
            statistic >= thresholds.ks_statistic and pvalue < thresholds.ks_alpha
        )
        return FeatureDrift(
            name, "numeric", psi, statistic, pvalue, drifted, len(r), len(c), float(r.mean()), float(c.mean())
        )
    psi = psi_categorical(ref, cur)
    return FeatureDrift(name, "categorical", psi, None, None, psi >= thresholds.psi, len(ref), len(cur))


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str] | None = None,
    thresholds: Thresholds | None = None,
) -> DriftReport:
    """Compare every shared column (or ``features``) of ``current`` with ``reference``."""
    thresholds = thresholds or Thresholds()
    columns = features or [c for c in reference.columns if c in current.columns]
    missing = [c for c in columns if c not in reference.columns or c not in current.columns]
    if missing:
        raise InvalidParameterError(f"Columns missing from the reference or the served data: {missing}")
    if not columns:
        raise InvalidParameterError(
            "The served inputs and the reference data share no column: "
            f"served {list(current.columns)[:10]}, reference {list(reference.columns)[:10]}"
        )
    for label, frame in (("reference", reference), ("served", current)):
        if len(frame) < MIN_ROWS:
            raise InvalidParameterError(
                f"The {label} data has {len(frame)} rows; drift needs at least {MIN_ROWS} on each side"
            )
    report = DriftReport(
        [_feature(str(c), reference[c], current[c], thresholds) for c in columns], thresholds
    )
    for f in report.features:
        if not math.isfinite(f.psi):
            raise InvalidParameterError(f"PSI of {f.feature} is not finite")
    return report
