"""The latency measurement protocol: warm-up, timed runs and the stop rule.

Seed 001 section III-B: inference time is wall-clock time from input to
output, model loading excluded, and each model is run "repeatedly until the
95% confidence bound ... is smaller than 5%". Here: the first inference is
timed on its own (it pays lazy allocations), then ``warmup_runs`` untimed
runs, then timed runs until the Student t CI half-width of the mean falls
below ``target_rel_ci`` of the mean (after at least ``min_runs``), bounded by
``max_runs`` and ``max_seconds`` of timed runs.

Plain Python: no Django import, so device agents and the child process use it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from measurements.stats import LatencyStats, ci_half_width, ci_half_width_from_moments

__all__ = ["LatencyStats", "ProtocolConfig", "StopRule", "run_protocol", "should_stop"]


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")


def _check_float(name: str, value: Any, low: float, high: float, what: str) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not low < value < high:
        raise ValueError(f"{name} must be {what}. Received: {name}={value!r}")


class ProtocolConfig:
    """Parameters of one measurement (latency and power sampling).

    Args:
        warmup_runs: untimed runs after the first inference.
        min_runs: timed runs before the CI rule may stop (>= 2: a spread needs two).
        max_runs: cap on timed runs.
        max_seconds: cap on the wall time of the timed runs, seconds.
        ci_level: confidence level of the CI of the mean (seed 001: 0.95).
        target_rel_ci: stop when the CI half-width < this fraction of the mean
            (seed 001: 5%).
        idle_seconds: idle power is sampled this long before the runs, seconds.
        sample_hz: power sampling rate, Hz (seed 001 samples at 1 kHz).
    """

    param_names: ClassVar[tuple[str, ...]] = (
        "warmup_runs",
        "min_runs",
        "max_runs",
        "max_seconds",
        "ci_level",
        "target_rel_ci",
        "idle_seconds",
        "sample_hz",
    )

    def __init__(
        self,
        *,
        warmup_runs: int = 5,
        min_runs: int = 10,
        max_runs: int = 1000,
        max_seconds: float = 30.0,
        ci_level: float = 0.95,
        target_rel_ci: float = 0.05,
        idle_seconds: float = 1.0,
        sample_hz: float = 1000,
    ) -> None:
        _check_int("warmup_runs", warmup_runs, 0)
        _check_int("min_runs", min_runs, 2)
        _check_int("max_runs", max_runs, 2)
        if max_runs < min_runs:
            raise ValueError(
                f"max_runs must be >= min_runs ({min_runs}). Received: max_runs={max_runs}"
            )
        _check_float("max_seconds", max_seconds, 0.0, math.inf, "a positive number of seconds")
        _check_float("ci_level", ci_level, 0.0, 1.0, "strictly between 0 and 1")
        _check_float("target_rel_ci", target_rel_ci, 0.0, math.inf, "a positive fraction")
        if idle_seconds != 0:
            _check_float("idle_seconds", idle_seconds, 0.0, math.inf, "0 or a positive number")
        # 10 kHz is far above what a Python sampling thread can sustain.
        _check_float("sample_hz", sample_hz, 0.0, 10_000.0 + 1e-9, "in (0, 10000] Hz")
        self.warmup_runs = warmup_runs
        self.min_runs = min_runs
        self.max_runs = max_runs
        self.max_seconds = float(max_seconds)
        self.ci_level = float(ci_level)
        self.target_rel_ci = float(target_rel_ci)
        self.idle_seconds = float(idle_seconds)
        self.sample_hz = float(sample_hz)

    def get_config(self) -> dict[str, Any]:
        """Parameters as a JSON-serialisable dict."""
        return {name: getattr(self, name) for name in self.param_names}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ProtocolConfig:
        """Rebuild a config from ``get_config()`` output."""
        return cls(**config)

    def replace(self, **changes: Any) -> ProtocolConfig:
        """A copy with some parameters changed (validated again)."""
        return type(self)(**{**self.get_config(), **changes})

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(tuple(self.get_config().items()))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"ProtocolConfig({params})"


class StopRule:
    """When to stop timing: CI met, run cap or time cap.

    ``check`` is pure (it recomputes from the whole sample); ``add`` keeps
    running moments (Welford) so the check between timed runs costs about a
    microsecond instead of a NumPy pass. Both decide through ``_decide``.
    """

    def __init__(self, config: ProtocolConfig) -> None:
        self.config = config
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0

    def _decide(
        self, n: int, mean: float, half_width: float, elapsed: float
    ) -> tuple[bool, str | None]:
        cfg = self.config
        if n >= cfg.min_runs and half_width < cfg.target_rel_ci * mean:
            return True, "ci_met"
        if n >= cfg.max_runs:
            return True, "max_runs"
        # The time cap also applies before min_runs (a very slow model must not
        # run for ever), but only once two runs give a spread to report.
        if elapsed >= cfg.max_seconds and n >= 2:
            return True, "time_cap"
        return False, None

    def check(self, samples: Sequence[float], elapsed: float) -> tuple[bool, str | None]:
        """Decide from the whole sample (any unit) and the elapsed timed seconds."""
        n = len(samples)
        mean = sum(samples) / n if n else 0.0
        return self._decide(n, mean, ci_half_width(samples, self.config.ci_level), elapsed)

    def add(self, sample: float, elapsed: float) -> tuple[bool, str | None]:
        """Record one more sample and decide, in O(1)."""
        self._n += 1
        delta = sample - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (sample - self._mean)
        std = math.sqrt(self._m2 / (self._n - 1)) if self._n > 1 else 0.0
        half = ci_half_width_from_moments(self._n, std, self.config.ci_level)
        return self._decide(self._n, self._mean, half, elapsed)


def should_stop(
    samples: Sequence[float], config: ProtocolConfig, elapsed: float
) -> tuple[bool, str | None]:
    """Pure stop rule.

    Args:
        samples: latencies of the timed runs so far (any one unit).
        config: the protocol parameters.
        elapsed: seconds spent in timed runs so far.

    Returns:
        ``(stop, reason)`` with reason ``"ci_met"``, ``"max_runs"``,
        ``"time_cap"`` or ``None`` when timing should go on.
    """
    return StopRule(config).check(samples, elapsed)


def run_protocol(
    infer: Callable[[], object],
    config: ProtocolConfig,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Time ``infer`` with the protocol.

    Args:
        infer: one inference, input to output (model already loaded).
        config: the protocol parameters.
        clock: seconds, monotonic; injectable so tests need no real timing.

    Returns:
        ``first_inference_ms``, ``latency`` (``LatencyStats.to_dict()``),
        ``samples_ms``, ``window_start`` / ``window_end`` (clock seconds
        bounding the timed runs, for matching power samples) and ``config``.
    """
    start = clock()
    infer()
    first_ms = (clock() - start) * 1000.0
    for _ in range(config.warmup_runs):
        infer()
    rule = StopRule(config)
    samples: list[float] = []
    window_start = clock()
    while True:
        t0 = clock()
        infer()
        t1 = clock()
        samples.append((t1 - t0) * 1000.0)
        stop, reason = rule.add(samples[-1], t1 - window_start)
        if stop:
            break
    window_end = clock()
    stats = LatencyStats.from_samples(samples, str(reason), config.ci_level)
    return {
        "first_inference_ms": first_ms,
        "latency": stats.to_dict(),
        "samples_ms": samples,
        "window_start": window_start,
        "window_end": window_end,
        "config": config.get_config(),
    }
