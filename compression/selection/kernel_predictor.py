"""A kernel-level latency predictor per device (after nn-Meter): sum the kernels.

Each operator type the device ran often enough gets its own regressor from
the kernel's features (``kernels.Kernel``) to its log time; rarer and unseen
types share one pooled regressor that also sees the type. A model's latency
is ``a * sum(kernel predictions) + b``: the per-device overhead term (a, b)
is fitted on the models whose whole latency was measured beside their
per-operator timings, because the isolated single-op timings miss inter-op
cache reuse and add one invoke per operator. The whole-model forest
(``predictor.LatencyPredictor``) stays the fallback where no op timings exist.

The regressor is a power law (least squares on log features) with a random
forest on its residuals: the forest alone cannot extrapolate to a layer
larger than any it saw, which leave-one-architecture-out demands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from compression.selection.kernels import Kernel

MIN_TYPE_SAMPLES = 8  # below this a type shares the pooled regressor
MIN_MS = 1e-6  # below this a measured sum counts as zero
# Kernel times are learnt as log(ms + 1 us): the in-graph profiler's resolution
# is 1 us, and an operator the runtime fused into its neighbour takes 0 ms,
# which a plain log would put at minus infinity.
KERNEL_OFFSET_MS = 1e-3
KINDS = ("power+forest", "forest", "power")
POWER_FEATURES = 4  # macs, input, output and weight elements: the first of NUMERIC_FEATURES
POWER_ALPHA = 1.0


@dataclass(frozen=True)
class ModelTiming:
    """One measured model: its kernels, their times and its whole latency.

    Attributes:
        name: what the model is (plan and architecture), for reports.
        architecture: the family it belongs to (held out together).
        kernels: its operators.
        kernel_ms: measured milliseconds per kernel, in the kernels' order.
        latency_ms: the whole model's measured latency, None when only ops were timed.
    """

    name: str
    architecture: str
    kernels: tuple[Kernel, ...]
    kernel_ms: tuple[float, ...]
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        if len(self.kernels) != len(self.kernel_ms):
            raise ValueError(
                f"Every kernel needs a time. Received: kernels={len(self.kernels)}, "
                f"kernel_ms={len(self.kernel_ms)}"
            )


class _Regressor:
    """Log time from kernel features: a power law plus a forest on its residuals.

    The power law sees only the log sizes (MACs, input, output, weights), so
    it stays a smooth, regularised trend a held-out architecture's larger
    kernels can be extrapolated along; the forest corrects it with every feature.
    """

    def __init__(self, kind: str, seed: int) -> None:
        self.kind, self.seed = kind, seed
        self.power: Pipeline | None = None
        self.forest: RandomForestRegressor | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Regressor:
        residual = y
        if self.kind != "forest":
            self.power = make_pipeline(StandardScaler(), Ridge(alpha=POWER_ALPHA))
            self.power.fit(x[:, :POWER_FEATURES], y)
            residual = y - self.power.predict(x[:, :POWER_FEATURES])
        if self.kind != "power":
            self.forest = RandomForestRegressor(
                n_estimators=100, min_samples_leaf=2, random_state=self.seed
            ).fit(x, residual)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        y = np.zeros(len(x))
        if self.power is not None:
            y += self.power.predict(x[:, :POWER_FEATURES])
        if self.forest is not None:
            y += self.forest.predict(x)
        return y


@dataclass
class KernelPredictor:
    """Per-type kernel regressors and the device's overhead term.

    Attributes:
        kind: "power+forest" (default), "forest" or "power".
        seed: the forests' seed.
        scale: a in ``a * sum + b``.
        overhead_ms: b in ``a * sum + b``.
    """

    kind: str = "power+forest"
    seed: int = 0
    scale: float = 1.0
    overhead_ms: float = 0.0
    types: dict[str, _Regressor] = field(default_factory=dict)
    pooled: _Regressor | None = None
    known_types: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"kind must be one of {', '.join(KINDS)}. Received: kind={self.kind!r}"
            )

    def fit(self, timings: Sequence[ModelTiming]) -> KernelPredictor:
        """Train the kernel regressors and the overhead term.

        Raises:
            ValueError: no kernel timings at all.
        """
        kernels = [k for t in timings for k in t.kernels]
        times = np.log([max(ms, 0.0) + KERNEL_OFFSET_MS for t in timings for ms in t.kernel_ms])
        if not kernels:
            raise ValueError("The kernel predictor needs per-operator timings. Received: 0 kernels")
        self.known_types = sorted({k.op_type for k in kernels})
        self.pooled = _Regressor(self.kind, self.seed).fit(self._pooled_x(kernels), times)
        for op_type in self.known_types:
            rows = [i for i, k in enumerate(kernels) if k.op_type == op_type]
            if len(rows) >= MIN_TYPE_SAMPLES:
                x = np.array([kernels[i].features() for i in rows])
                self.types[op_type] = _Regressor(self.kind, self.seed).fit(x, times[rows])
        self._fit_overhead([t for t in timings if t.latency_ms is not None])
        return self

    def _fit_overhead(self, whole: Sequence[ModelTiming]) -> None:
        """a and b of ``latency = a * sum(kernel ms) + b`` on the measured sums."""
        if not whole:
            return
        sums = np.array([sum(t.kernel_ms) for t in whole])
        latencies = np.array([t.latency_ms for t in whole], dtype=float)
        if len(whole) >= 3 and np.ptp(sums) > 0:
            fitted = LinearRegression().fit(sums[:, None], latencies)
            if fitted.coef_[0] > 0 and fitted.intercept_ >= 0:
                self.scale, self.overhead_ms = float(fitted.coef_[0]), float(fitted.intercept_)
                return
        # An overhead cannot be negative (a fitted one predicted small models below
        # zero): the scale alone, as the median ratio, robust to the odd slow model.
        self.scale = float(np.median(latencies / np.maximum(sums, MIN_MS)))
        self.overhead_ms = 0.0

    def _pooled_x(self, kernels: Sequence[Kernel]) -> np.ndarray:
        return np.array(
            [k.features() + [float(k.op_type == t) for t in self.known_types] for k in kernels]
        )

    def kernel_ms(self, kernels: Sequence[Kernel]) -> np.ndarray:
        """Predicted milliseconds of each kernel."""
        if self.pooled is None:
            raise ValueError("The kernel predictor is not trained; call fit() first.")
        log_ms = self.pooled.predict(self._pooled_x(kernels)) if kernels else np.array([])
        for op_type, regressor in self.types.items():
            rows = [i for i, k in enumerate(kernels) if k.op_type == op_type]
            if rows:
                log_ms[rows] = regressor.predict(np.array([kernels[i].features() for i in rows]))
        return np.maximum(np.exp(log_ms) - KERNEL_OFFSET_MS, 0.0)

    def predict(self, kernels: Sequence[Kernel]) -> float:
        """A model's latency, ms: the overhead term over the sum of its kernels."""
        return float(self.scale * self.kernel_ms(kernels).sum() + self.overhead_ms)


@dataclass(frozen=True)
class HeldOutReport:
    """Leave-one-architecture-out error, with the always-the-median baseline beside it.

    Attributes:
        within_10_pct: share (0..1) of held-out models predicted within +-10%.
        median_ape_pct: median absolute percentage error.
        median_within_10_pct: the same share when always predicting the training median.
        median_baseline_ape_pct: the baseline's median absolute percentage error.
        rows: per held-out model: name, architecture, measured, predicted, baseline (ms).
    """

    within_10_pct: float
    median_ape_pct: float
    median_within_10_pct: float
    median_baseline_ape_pct: float
    rows: list[dict] = field(default_factory=list)


def leave_one_architecture_out(
    timings: Sequence[ModelTiming], kind: str = "power+forest", seed: int = 0
) -> HeldOutReport:
    """Hold out each architecture in turn; train on the others; predict its models.

    Raises:
        ValueError: fewer than two architectures, or no whole-model latency to test.
    """
    families = sorted({t.architecture for t in timings})
    if len(families) < 2:
        raise ValueError(
            f"Leave-one-architecture-out needs at least two architectures. Received: {families}"
        )
    rows = []
    for family in families:
        train = [t for t in timings if t.architecture != family]
        test = [t for t in timings if t.architecture == family and t.latency_ms is not None]
        predictor = KernelPredictor(kind, seed).fit(train)
        median = float(np.median([t.latency_ms for t in train if t.latency_ms is not None]))
        for t in test:
            rows.append(
                {
                    "name": t.name,
                    "architecture": family,
                    "measured_ms": t.latency_ms,
                    "predicted_ms": predictor.predict(t.kernels),
                    "median_ms": median,
                }
            )
    if not rows:
        raise ValueError("No held-out model has a whole-model latency to compare with.")
    measured = np.array([r["measured_ms"] for r in rows])
    ape = np.abs(np.array([r["predicted_ms"] for r in rows]) - measured) / measured * 100
    base = np.abs(np.array([r["median_ms"] for r in rows]) - measured) / measured * 100
    return HeldOutReport(
        within_10_pct=float(np.mean(ape <= 10)),
        median_ape_pct=float(np.median(ape)),
        median_within_10_pct=float(np.mean(base <= 10)),
        median_baseline_ape_pct=float(np.median(base)),
        rows=rows,
    )
