"""Timing and energy on the board: the host protocol's stop rule and sums, without SciPy.

Part of the stdlib-only agent (Python 3.6+). It repeats ``measurements.stats``,
``measurements.protocol`` and ``measurements.power.integrate`` figure for
figure (host tests compare them), with its own Student t quantile since SciPy
is not on boards.
"""

# Python 3.6 has no builtin generics, ``X | None``, ``zip(strict=)`` nor ``run(text=)``;
# the typing names are used by the ``# type:`` comments ruff does not read.
# ruff: noqa: F401, UP004, UP006, UP007, UP021, UP031, UP035, UP045, B905

import math
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

MAX_STABLE_CV = 0.25  # as measurements.stats: above it a latency is flagged unstable

# ---------------------------------------------------------------- statistics


def _normal_quantile(p):
    # type: (float) -> float
    """Standard normal quantile, Acklam's rational approximation (rel. error 1.2e-9)."""
    a = (-39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269,
         -30.6647980661472, 2.50662827745924)  # fmt: skip
    b = (-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197,
         -13.2806815528857)  # fmt: skip
    c = (-0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373,
         4.37466414146497, 2.93816398269878)  # fmt: skip
    d = (0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742)
    if p < 0.02425 or p > 1 - 0.02425:
        q = math.sqrt(-2 * math.log(min(p, 1 - p)))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
        return x if p < 0.5 else -x
    q = p - 0.5
    r = q * q
    num = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
    return num / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def _betacf(a, b, x):
    # type: (float, float, float) -> float
    """Continued fraction of the incomplete beta function (Numerical Recipes 6.4, Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                   -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):  # fmt: skip
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _t_upper_tail(t, dof):
    # type: (float, float) -> float
    """P(T > t) for t >= 0: half the regularised incomplete beta I_{v/(v+t^2)}(v/2, 1/2)."""
    x = dof / (dof + t * t)
    a, b = dof / 2.0, 0.5
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 0.5
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return 0.5 * front * _betacf(a, b, x) / a
    return 0.5 * (1.0 - front * _betacf(b, a, 1.0 - x) / b)


_T_CACHE = {}  # type: Dict[Tuple[float, int], float]


def t_quantile(level, dof):
    # type: (float, int) -> float
    """Two-sided Student t critical value, ``scipy.stats.t.ppf((1 + level) / 2, dof)``.

    SciPy is not on boards. Exact closed forms for 1 and 2 degrees of freedom;
    otherwise the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5) from
    the normal quantile, refined by Newton steps on the exact tail (incomplete
    beta function), so it agrees with SciPy to about 1e-9 (host tests check it).
    """
    key = (level, dof)
    if key in _T_CACHE:
        return _T_CACHE[key]
    p = (1.0 + level) / 2.0
    if dof == 1:
        t = math.tan(math.pi * (p - 0.5))
    elif dof == 2:
        t = (2 * p - 1) * math.sqrt(2.0 / (4 * p * (1 - p)))
    else:
        z, v = _normal_quantile(p), float(dof)
        t = z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        t += (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        t += (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
        log_norm = math.lgamma((v + 1) / 2) - math.lgamma(v / 2) - 0.5 * math.log(v * math.pi)
        for _ in range(50):
            pdf = math.exp(log_norm - (v + 1) / 2 * math.log1p(t * t / v))
            step = (_t_upper_tail(t, v) - (1.0 - p)) / pdf
            t = max(t + step, t / 2.0)  # Newton on the tail; never jump below zero
            if abs(step) < 1e-12 * max(1.0, t):
                break
    _T_CACHE[key] = t
    return t


def ci_half_width_from_moments(n, std, level):
    # type: (int, float, float) -> float
    """Half-width of the Student t CI of the mean; ``inf`` below two samples."""
    if n < 2:
        return math.inf
    return t_quantile(level, n - 1) * std / math.sqrt(n)


def percentile(sorted_values, q):
    # type: (Sequence[float], float) -> float
    """Percentile ``q`` (0-100) with linear interpolation, NumPy's default method."""
    pos = (len(sorted_values) - 1) * q / 100.0
    low = int(math.floor(pos))
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def latency_stats(samples_ms, reason, level):
    # type: (Sequence[float], str, float) -> Dict[str, Any]
    """The figures of ``measurements.stats.LatencyStats.to_dict()``."""
    n = len(samples_ms)
    mean = sum(samples_ms) / n
    std = math.sqrt(sum((s - mean) ** 2 for s in samples_ms) / (n - 1)) if n > 1 else 0.0
    cv = std / mean if mean > 0 else math.inf
    ordered = sorted(samples_ms)
    half = ci_half_width_from_moments(n, std, level)
    return {
        "mean_ms": mean,
        "median_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "std_ms": std,
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "ci_half_width_ms": half if math.isfinite(half) else None,
        "ci_level": level,
        "cv": cv if math.isfinite(cv) else None,
        "runs": n,
        "stop_reason": reason,
        "rule_met": reason == "ci_met",
        "stable": reason == "ci_met" and cv <= MAX_STABLE_CV,
    }


class StopRule(object):
    """The stop rule of ``measurements.protocol.StopRule``, with Welford moments."""

    def __init__(self, config):
        # type: (Dict[str, Any]) -> None
        self.config = config
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, sample, elapsed):
        # type: (float, float) -> Tuple[bool, Optional[str]]
        """Record one sample (ms) after ``elapsed`` timed seconds; ``(stop, reason)``."""
        cfg = self.config
        self.n += 1
        delta = sample - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (sample - self.mean)
        std = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        half = ci_half_width_from_moments(self.n, std, cfg["ci_level"])
        if self.n >= cfg["min_runs"] and half < cfg["target_rel_ci"] * self.mean:
            return True, "ci_met"
        if self.n >= cfg["max_runs"]:
            return True, "max_runs"
        if elapsed >= cfg["max_seconds"] and self.n >= 2:
            return True, "time_cap"
        return False, None


def run_protocol(infer, config, clock=time.perf_counter):
    # type: (Callable[[], Any], Dict[str, Any], Callable[[], float]) -> Dict[str, Any]
    """First inference, warm-up, then timed runs until the stop rule says so."""
    start = clock()
    infer()
    first_ms = (clock() - start) * 1000.0
    for _ in range(config["warmup_runs"]):
        infer()
    rule, samples = StopRule(config), []  # type: StopRule, List[float]
    window_start = clock()
    while True:
        t0 = clock()
        infer()
        t1 = clock()
        samples.append((t1 - t0) * 1000.0)
        stop, reason = rule.add(samples[-1], t1 - window_start)
        if stop:
            break
    return {
        "first_inference_ms": first_ms,
        "latency": latency_stats(samples, str(reason), config["ci_level"]),
        "window_start": window_start,
        "window_end": clock(),
    }


# ---------------------------------------------------------------- energy


def _interp(t, times, watts):
    # type: (float, List[float], List[float]) -> float
    if t <= times[0]:
        return watts[0]
    if t >= times[-1]:
        return watts[-1]
    for i in range(1, len(times)):
        if times[i] >= t:
            span = times[i] - times[i - 1]
            frac = (t - times[i - 1]) / span if span > 0 else 1.0
            return watts[i - 1] + (watts[i] - watts[i - 1]) * frac
    return watts[-1]


def integrate_energy_j(samples, start, end):
    # type: (Sequence[Tuple[float, float]], float, float) -> float
    """Trapezoid integral (J) of the power curve over ``[start, end]``, as integrate.py."""
    if not end > start or len(samples) < 2:
        raise ValueError("need a window that ends after it starts and two power samples")
    times = [s[0] for s in samples]
    watts = [s[1] for s in samples]
    points = [(start, _interp(start, times, watts))]
    points += [(t, w) for t, w in samples if start < t < end]
    points.append((end, _interp(end, times, watts)))
    return sum((b[0] - a[0]) * (a[1] + b[1]) / 2.0 for a, b in zip(points, points[1:]))


def summarise_energy(samples, idle_window, run_window, runs):
    # type: (Sequence[Tuple[float, float]], Optional[Tuple[float, float]], Tuple[float, float], int) -> Dict[str, Any]  # noqa: E501
    """Idle power, run power and energy per inference (mJ, idle deducted), as integrate.py."""
    idle_w = (
        integrate_energy_j(samples, *idle_window) / (idle_window[1] - idle_window[0])
        if (idle_window)
        else 0.0
    )
    total_j = integrate_energy_j(samples, *run_window)
    duration = run_window[1] - run_window[0]
    span = samples[-1][0] - samples[0][0]
    return {
        "idle_power_w": idle_w if idle_window else None,
        "average_power_w": total_j / duration,
        "energy_mj": (total_j - idle_w * duration) / runs * 1000.0,
        "idle_deducted": idle_window is not None,
        "samples": len(samples),
        "sample_rate_hz": (len(samples) - 1) / span if span > 0 else None,
    }
