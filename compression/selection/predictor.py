"""A per-device latency predictor trained on that device's measured results.

Features are static figures of the artifact (MACs, parameters, weight and
activation bits, the share of each operator type) and the thread count; the
target is log latency, so errors are relative as the report measures them.
A random forest (scikit-learn) copes with a few dozen rows and mixed scales.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor

NUMERIC = ("macs", "params", "sp_bits", "sf_bits", "num_threads")
MIN_ROWS = 3


def _features(row: Mapping[str, Any], ops: Sequence[str]) -> list[float]:
    values = [math.log1p(float(row.get(name) or 0)) for name in NUMERIC]
    mix = row.get("by_op_type") or {}
    total = sum(_count(v) for v in mix.values()) or 1.0
    return values + [_count(mix.get(op, 0)) / total for op in ops]


def _count(value: Any) -> float:
    # by_op_type holds a count per op, or a dict with one.
    if isinstance(value, Mapping):
        return float(value.get("count", 0))
    return float(value)


@dataclass(frozen=True)
class Report:
    """Held-out error of the predictor.

    Attributes:
        median_ape_pct: median absolute percentage error.
        within_10_pct: share (0..1) of predictions within +-10% of the measurement.
        n_train: rows it was trained on.
        n_test: rows it was tested on.
    """

    median_ape_pct: float
    within_10_pct: float
    n_train: int
    n_test: int


class LatencyPredictor:
    """Predicts latency (ms) from static figures; fit on one device's results."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.ops: list[str] = []
        self.model: RandomForestRegressor | None = None

    def fit(self, rows: Sequence[Mapping[str, Any]]) -> LatencyPredictor:
        """Train on rows holding the features and ``latency_ms``.

        Raises:
            ValueError: fewer than 3 rows with a latency.
        """
        rows = [r for r in rows if r.get("latency_ms")]
        if len(rows) < MIN_ROWS:
            raise ValueError(
                f"The latency predictor needs at least {MIN_ROWS} measured results on the "
                f"device. Received: rows={len(rows)}"
            )
        self.ops = sorted({op for r in rows for op in (r.get("by_op_type") or {})})
        x = np.array([_features(r, self.ops) for r in rows])
        y = np.log([float(r["latency_ms"]) for r in rows])
        self.model = RandomForestRegressor(n_estimators=100, random_state=self.seed)
        self.model.fit(x, y)
        return self

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Latency in ms for each row."""
        if self.model is None:
            raise ValueError("The predictor is not trained; call fit() first.")
        x = np.array([_features(r, self.ops) for r in rows])
        return np.exp(self.model.predict(x))


def evaluate(rows: Sequence[Mapping[str, Any]], test_share: float = 0.3, seed: int = 0) -> Report:
    """Train on part of the measured rows and report the error on the rest.

    Args:
        rows: measured rows (features and ``latency_ms``).
        test_share: the held-out share, 0..1.
        seed: the split's and the forest's seed.
    """
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must be between 0 and 1. Received: test_share={test_share}")
    rows = [r for r in rows if r.get("latency_ms")]
    order = np.random.default_rng(seed).permutation(len(rows))
    n_test = max(1, round(len(rows) * test_share))
    test = [rows[i] for i in order[:n_test]]
    train = [rows[i] for i in order[n_test:]]
    predicted = LatencyPredictor(seed).fit(train).predict(test)
    actual = np.array([float(r["latency_ms"]) for r in test])
    ape = np.abs(predicted - actual) / actual * 100
    return Report(float(np.median(ape)), float(np.mean(ape <= 10)), len(train), len(test))
