"""Energy per inference by integration, idle deduction, and the AdaDeep eq. 5 estimate."""

from __future__ import annotations

import numpy as np
import pytest

from measurements.power.estimate import ESTIMATE_METHOD, estimate_energy_mj
from measurements.power.integrate import (
    average_power_w,
    energy_per_inference_mj,
    integrate_energy_j,
    summarise_energy,
)


def _sampled(power, start: float, end: float, hz: float = 1000.0) -> list[tuple[float, float]]:
    times = np.arange(start, end + 1e-12, 1.0 / hz)
    return [(float(t), float(power(t))) for t in times]


def test_it_integrates_constant_power_and_deducts_idle() -> None:
    samples = _sampled(lambda t: 5.0, 0.0, 2.0)
    # 5 W for 1 s minus 2 W idle for 1 s = 3 J over 10 runs = 300 mJ each.
    assert energy_per_inference_mj(samples, 0.5, 1.5, runs=10, idle_watts=2.0) == pytest.approx(
        300.0
    )
    assert energy_per_inference_mj(samples, 0.5, 1.5, runs=10, idle_watts=0.0) == pytest.approx(
        500.0
    )


def test_it_integrates_a_ramp_with_window_bounds_between_samples() -> None:
    samples = _sampled(lambda t: t, 0.0, 4.0, hz=1 / 0.7)  # samples at 0, 0.7, 1.4, ...
    # Integral of P(t) = t over [1, 3] = (9 - 1) / 2 = 4 J; trapezoids are exact on a line.
    assert integrate_energy_j(samples, 1.0, 3.0) == pytest.approx(4.0)
    assert average_power_w(samples, 1.0, 3.0) == pytest.approx(2.0)


def test_it_summarises_idle_and_run_windows() -> None:
    samples = _sampled(lambda t: 3.0 if t < 1.0 else 8.0, 0.0, 3.0)
    out = summarise_energy(samples, idle_window=(0.0, 0.9), run_window=(1.5, 2.5), runs=100)
    assert out["idle_power_w"] == pytest.approx(3.0)
    assert out["average_power_w"] == pytest.approx(8.0)
    # (8 W - 3 W) * 1 s / 100 runs = 50 mJ.
    assert out["energy_mj"] == pytest.approx(50.0)
    assert out["idle_deducted"] is True
    assert out["sample_rate_hz"] == pytest.approx(1000.0)
    no_idle = summarise_energy(samples, idle_window=None, run_window=(1.5, 2.5), runs=100)
    assert no_idle["energy_mj"] == pytest.approx(80.0) and no_idle["idle_power_w"] is None


def test_it_refuses_samples_that_miss_the_window() -> None:
    samples = _sampled(lambda t: 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="do not overlap the window"):
        integrate_energy_j(samples, 2.0, 3.0)
    with pytest.raises(ValueError, match="Received: runs=0"):
        energy_per_inference_mj(samples, 0.1, 0.2, runs=0, idle_watts=0.0)
    with pytest.raises(ValueError, match="end after it starts"):
        integrate_energy_j(samples, 0.5, 0.5)


def test_it_estimates_energy_with_adadeep_eq5() -> None:
    # LeNet-like figures: 341k MACs, 60k float32 weights, 10k float32 activations.
    macs, sp_bits, sf_bits = 341_000, 60_000 * 32, 10_000 * 32
    e1 = 52.8e-12
    by_hand_j = e1 * macs + 6 * e1 * sp_bits + 200 * e1 * sf_bits
    assert estimate_energy_mj(macs, sp_bits, sf_bits) == pytest.approx(by_hand_j * 1e3)
    assert estimate_energy_mj(0, 0, 0) == 0.0
    assert ESTIMATE_METHOD == "estimated (AdaDeep eq. 5)"


def test_it_exports_the_estimate_lazily_from_the_package() -> None:
    import measurements.power as power

    assert power.estimate_energy_mj is estimate_energy_mj
    assert power.ESTIMATE_METHOD == ESTIMATE_METHOD
    with pytest.raises(AttributeError):
        _ = power.no_such_name
