"""Summary statistics of a latency sample: mean, spread and the CI of the mean.

Seed 001 (section III-B, "Performance Report") runs each model "repeatedly
until the 95% confidence bound ... is smaller than 5%"; the confidence
interval of the mean here is the Student t one, since the number of runs is
small and the population variance unknown.

Plain Python (NumPy, SciPy): no Django import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

# Above this coefficient of variation (std / mean) a latency figure is flagged
# unstable even if the CI rule was met: with hundreds of runs the CI of the mean
# can be narrow while single inferences still vary by more than a quarter,
# which usually means interference (other processes, frequency changes).
MAX_STABLE_CV = 0.25

STOP_REASONS = ("ci_met", "max_runs", "time_cap")


@lru_cache(maxsize=4096)
def t_quantile(level: float, dof: int) -> float:
    """Two-sided Student t critical value ``scipy.stats.t.ppf((1 + level) / 2, dof)``.

    ``scipy.special.stdtrit`` is the function ``t.ppf`` evaluates; calling it
    directly spares the measurement child the slow ``scipy.stats`` import.
    Cached because the stop rule asks for it after every timed run.
    """
    return float(special.stdtrit(dof, (1.0 + level) / 2.0))


def ci_half_width_from_moments(n: int, std: float, level: float) -> float:
    """Half-width of the Student t CI of the mean from n and the sample std.

    Returns ``inf`` for fewer than two samples (no spread can be estimated).
    """
    if n < 2:
        return math.inf
    return t_quantile(level, n - 1) * std / math.sqrt(n)


def ci_half_width(samples: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the ``level`` confidence interval of the mean of ``samples``.

    Args:
        samples: observations (any unit; the result has the same unit).
        level: confidence level in (0, 1).

    Returns:
        ``t.ppf((1 + level) / 2, n - 1) * s / sqrt(n)`` with ``s`` the sample
        standard deviation (ddof=1); ``inf`` when n < 2.
    """
    n = len(samples)
    if n < 2:
        return math.inf
    return ci_half_width_from_moments(n, float(np.std(samples, ddof=1)), level)


@dataclass(frozen=True)
class LatencyStats:
    """Latency summary of the timed runs, in milliseconds.

    ``rule_met`` says whether the CI stop rule ended the runs (rather than a
    cap); ``stable`` is false when it was not met or when the coefficient of
    variation exceeds ``MAX_STABLE_CV``.
    """

    mean_ms: float
    median_ms: float
    p90_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    ci_half_width_ms: float
    ci_level: float
    cv: float
    runs: int
    stop_reason: str
    rule_met: bool
    stable: bool

    @classmethod
    def from_samples(
        cls, samples_ms: Sequence[float], reason: str, ci_level: float = 0.95
    ) -> LatencyStats:
        """Summarise timed runs.

        Args:
            samples_ms: one latency per timed run, milliseconds; at least one.
            reason: why the runs stopped, one of ``STOP_REASONS``.
            ci_level: confidence level of the reported CI half-width.

        Returns:
            The summary; std and CI are 0 and inf for a single sample.
        """
        if len(samples_ms) == 0:
            raise ValueError("Cannot summarise an empty latency sample. Received: samples_ms=[]")
        if reason not in STOP_REASONS:
            raise ValueError(f"reason must be one of {STOP_REASONS}. Received: reason={reason!r}")
        arr = np.asarray(samples_ms, dtype=float)
        mean = float(arr.mean())
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        cv = std / mean if mean > 0 else math.inf
        rule_met = reason == "ci_met"
        return cls(
            mean_ms=mean,
            median_ms=float(np.median(arr)),
            p90_ms=float(np.percentile(arr, 90)),
            std_ms=std,
            min_ms=float(arr.min()),
            max_ms=float(arr.max()),
            ci_half_width_ms=ci_half_width(arr, ci_level),
            ci_level=ci_level,
            cv=cv,
            runs=int(arr.size),
            stop_reason=reason,
            rule_met=rule_met,
            stable=rule_met and cv <= MAX_STABLE_CV,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (an infinite CI half-width becomes ``None``)."""
        data = asdict(self)
        for key in ("ci_half_width_ms", "cv"):
            if not math.isfinite(data[key]):
                data[key] = None
        return data
