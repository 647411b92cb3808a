"""The real-speedup check: is a compression really faster and smaller on a device?

Latency is compared as a speedup, baseline / compressed (seed 004's "x"
reduction: 2× means half the time), with a conservative interval built from
the two stored 95 % confidence half-widths by interval arithmetic::

    low  = (b - hb) / (c + hc)
    high = (b + hb) / (c - hc)      (unbounded when c - hc <= 0)

with ``b``, ``c`` the baseline and compressed mean latencies and ``hb``,
``hc`` their CI half-widths (Result.latency_ci95_ms). Every ratio of a value
inside one interval to a value inside the other lies in [low, high], so the
interval covers the true speedup whenever both 95 % intervals cover their
means: with probability at least 90 % (Bonferroni), about 90.25 % for
independent runs. It is wider than a delta-method or Fieller interval at the
same level; a verdict of "faster" or "slower" from it is therefore a safe one.
Pure Python: no Django import.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.dashboard.analysis import units

FASTER, SLOWER, UNCLEAR = "faster", "slower", "no clear difference"
SMALLER, GZIP_ONLY, NOT_SMALLER = "smaller", "smaller only gzipped", "no smaller"


@dataclass(frozen=True)
class Interval:
    """A speedup (baseline / compressed) with its conservative interval.

    Attributes:
        value: the point speedup.
        low: the lower bound.
        high: the upper bound; None when unbounded.
        has_ci: whether both confidence half-widths were recorded.
    """

    value: float
    low: float
    high: float | None
    has_ci: bool

    @property
    def verdict(self) -> str:
        """FASTER when even the lower bound exceeds 1, SLOWER when the upper is below 1."""
        if self.low > 1:
            return FASTER
        if self.high is not None and self.high < 1:
            return SLOWER
        return UNCLEAR

    def show(self) -> str:
        """e.g. ``1.8× [1.6×–2.1×]``, or the point value alone without a CI."""
        if not self.has_ci:
            return f"{units.times(self.value)} (no CI recorded)"
        high = units.times(self.high) if self.high is not None else "unbounded"
        return f"{units.times(self.value)} [{units.times(self.low)}–{high}]"


def speedup(
    baseline_ms: float | None,
    baseline_ci: float | None,
    compressed_ms: float | None,
    compressed_ci: float | None,
) -> Interval | None:
    """The speedup of a compressed result over its baseline, or None if a mean is missing.

    Without both half-widths the interval collapses to the point value and the
    verdict rests on it alone (``has_ci`` says so).
    """
    if not (units.finite(baseline_ms) and units.finite(compressed_ms)) or compressed_ms <= 0:
        return None
    value = baseline_ms / compressed_ms
    if not (units.finite(baseline_ci) and units.finite(compressed_ci)):
        return Interval(value, value, value, has_ci=False)
    low = max(baseline_ms - baseline_ci, 0.0) / (compressed_ms + compressed_ci)
    denominator = compressed_ms - compressed_ci
    high = (baseline_ms + baseline_ci) / denominator if denominator > 0 else None
    return Interval(value, low, high, has_ci=True)


def reduction(baseline: float | None, compressed: float | None) -> float | None:
    """Seed 004's "x" reduction, baseline / compressed (None when either is missing or 0)."""
    if not (units.finite(baseline) and units.finite(compressed)) or compressed <= 0:
        return None
    return baseline / compressed


def size_verdict(
    baseline_file: int | None,
    file: int | None,
    baseline_gzip: int | None,
    gzip: int | None,
) -> str | None:
    """SMALLER, GZIP_ONLY (the file did not shrink, its gzip did) or NOT_SMALLER.

    None when the file sizes are unknown. Pruning (W3) typically gives
    GZIP_ONLY: zeros are stored densely in the ``.tflite`` but compress well.
    """
    if not (units.finite(baseline_file) and units.finite(file)):
        return None
    if file < baseline_file:
        return SMALLER
    if units.finite(baseline_gzip) and units.finite(gzip) and gzip < baseline_gzip:
        return GZIP_ONLY
    return NOT_SMALLER


def flags(latency: Interval | None, size: str | None) -> list[str]:
    """Plain warnings for a compression that made the model slower or no smaller."""
    out = []
    if latency is not None and latency.verdict == SLOWER:
        out.append("slower than the baseline")
    if size == NOT_SMALLER:
        out.append("no smaller than the baseline")
    return out


def summary(latency: Interval | None, size: str | None) -> str:
    """One sentence: is it really faster and smaller on this device?"""
    if latency is None:
        speed = "latency not comparable (a mean is missing)"
    elif latency.verdict == UNCLEAR:
        speed = "not measurably faster or slower (the interval spans 1×)"
    else:
        speed = f"really {latency.verdict} ({latency.show()})"
    if size is None:
        return f"{speed}; size not comparable (a file size is missing)."
    return f"{speed}; {size} than the baseline." if size != GZIP_ONLY else f"{speed}; {size}."
