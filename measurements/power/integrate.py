"""Energy per inference from power samples.

Seed 001 section III-B matches the 1 kHz power readings "against the time
stamps of model execution" and deducts "the static power used by the hardware
when the system is idle". So: integrate the power curve (trapezoid rule) over
the window of the timed runs, subtract idle power times the window length,
and divide by the number of runs. Units: seconds, watts, joules; the result
in millijoules per inference as the house stores energy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from measurements.power.base import Sample


def _curve(samples: Sequence[Sample], start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    if not end > start:
        raise ValueError(f"The window must end after it starts. Received: window=({start}, {end})")
    if len(samples) < 2:
        raise ValueError(
            f"At least two power samples are needed. Received: samples of length {len(samples)}"
        )
    t = np.asarray([s[0] for s in samples], dtype=float)
    w = np.asarray([s[1] for s in samples], dtype=float)
    if t[-1] < start or t[0] > end:
        raise ValueError(
            f"The power samples (t={t[0]:.6f}..{t[-1]:.6f}) do not overlap the window. "
            f"Received: window=({start:.6f}, {end:.6f})"
        )
    # The curve at the window bounds: linear interpolation between the
    # neighbouring samples, or the nearest sample held beyond the first/last.
    inside = (t > start) & (t < end)
    times = np.concatenate(([start], t[inside], [end]))
    return times, np.interp(times, t, w)


def integrate_energy_j(samples: Sequence[Sample], start: float, end: float) -> float:
    """Energy (J) of the power curve over ``[start, end]`` by the trapezoid rule."""
    times, watts = _curve(samples, start, end)
    return float(np.trapezoid(watts, times))


def average_power_w(samples: Sequence[Sample], start: float, end: float) -> float:
    """Time-weighted mean power (W) over ``[start, end]``."""
    return integrate_energy_j(samples, start, end) / (end - start)


def energy_per_inference_mj(
    samples: Sequence[Sample],
    window_start: float,
    window_end: float,
    runs: int,
    idle_watts: float,
) -> float:
    """Energy of one inference above idle, millijoules.

    Args:
        samples: ``(t_seconds, watts)`` pairs, oldest first.
        window_start: clock time the timed runs started, seconds.
        window_end: clock time they ended, seconds.
        runs: number of timed runs in the window.
        idle_watts: static power measured with the system idle, watts.

    Returns:
        ``(integral of P over the window - idle_watts * duration) / runs``
        in mJ. It can come out near zero or negative when the inference power
        is within the sensor's noise; callers report it as measured anyway.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a positive integer. Received: runs={runs!r}")
    if idle_watts < 0:
        raise ValueError(f"idle_watts must be >= 0. Received: idle_watts={idle_watts!r}")
    total_j = integrate_energy_j(samples, window_start, window_end)
    dynamic_j = total_j - idle_watts * (window_end - window_start)
    return dynamic_j / runs * 1000.0


def summarise_energy(
    samples: Sequence[Sample],
    idle_window: tuple[float, float] | None,
    run_window: tuple[float, float],
    runs: int,
) -> dict[str, Any]:
    """Idle power, power during the runs and energy per inference, as a dict.

    Args:
        samples: ``(t_seconds, watts)`` covering both windows.
        idle_window: ``(start, end)`` of the idle measurement, or ``None`` to
            deduct nothing (then the figure includes static power, and says so).
        run_window: ``(start, end)`` of the timed runs.
        runs: number of timed runs.

    Returns:
        ``idle_power_w``, ``average_power_w``, ``energy_mj`` (per inference,
        idle deducted), ``idle_deducted``, ``samples`` and ``sample_rate_hz``.
    """
    idle_w = average_power_w(samples, *idle_window) if idle_window else 0.0
    span = samples[-1][0] - samples[0][0] if len(samples) > 1 else 0.0
    return {
        "idle_power_w": idle_w if idle_window else None,
        "average_power_w": average_power_w(samples, *run_window),
        "energy_mj": energy_per_inference_mj(samples, *run_window, runs, idle_w),
        "idle_deducted": idle_window is not None,
        "samples": len(samples),
        "sample_rate_hz": (len(samples) - 1) / span if span > 0 else None,
    }
