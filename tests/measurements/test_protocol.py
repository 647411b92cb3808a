"""The latency protocol on synthetic timing streams (a fake clock, no real timing)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from measurements.protocol import LatencyStats, ProtocolConfig, StopRule, run_protocol, should_stop
from measurements.stats import MAX_STABLE_CV, ci_half_width


class FakeClock:
    """A clock that only moves when the fake inference runs."""

    def __init__(self, durations_ms: np.ndarray) -> None:
        self.now = 100.0
        self.durations = iter(durations_ms)
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def infer(self) -> None:
        self.calls += 1
        self.now += next(self.durations) / 1000.0


def _by_hand_half_width(samples: np.ndarray, level: float) -> float:
    n = samples.size
    s = math.sqrt(((samples - samples.mean()) ** 2).sum() / (n - 1))
    return sps.t.ppf((1 + level) / 2, n - 1) * s / math.sqrt(n)


def test_it_stops_a_stable_stream_early_with_ci_met() -> None:
    rng = np.random.default_rng(0)
    clock = FakeClock(rng.normal(10.0, 0.1, 5000))
    config = ProtocolConfig()
    out = run_protocol(clock.infer, config, clock=clock)
    lat = out["latency"]
    assert lat["stop_reason"] == "ci_met"
    assert lat["runs"] == config.min_runs
    assert lat["rule_met"] is True and lat["stable"] is True
    assert abs(lat["mean_ms"] - 10.0) < 0.2


def test_it_hits_max_runs_on_a_noisy_stream_and_flags_it_unstable() -> None:
    rng = np.random.default_rng(1)
    clock = FakeClock(rng.lognormal(mean=0.0, sigma=1.0, size=5000))
    out = run_protocol(clock.infer, ProtocolConfig(), clock=clock)
    lat = out["latency"]
    assert lat["stop_reason"] == "max_runs"
    assert lat["runs"] == 1000
    assert lat["rule_met"] is False and lat["stable"] is False
    assert lat["ci_half_width_ms"] >= 0.05 * lat["mean_ms"]


def test_it_hits_the_time_cap_on_a_slow_noisy_stream() -> None:
    rng = np.random.default_rng(2)
    durations = rng.lognormal(mean=math.log(100.0), sigma=1.0, size=5000)
    clock = FakeClock(durations)
    out = run_protocol(clock.infer, ProtocolConfig(max_seconds=5.0), clock=clock)
    lat = out["latency"]
    assert lat["stop_reason"] == "time_cap"
    assert lat["stable"] is False
    # It stops at the first run ending past the cap.
    timed = durations[1 + 5 : 1 + 5 + lat["runs"]]
    assert timed.sum() / 1000 >= 5.0 > timed[:-1].sum() / 1000
    assert out["window_end"] - out["window_start"] == pytest.approx(timed.sum() / 1000)


def test_it_reports_a_ci_half_width_matching_a_scipy_computation() -> None:
    rng = np.random.default_rng(3)
    clock = FakeClock(rng.normal(5.0, 1.0, 5000))
    config = ProtocolConfig(ci_level=0.9)
    out = run_protocol(clock.infer, config, clock=clock)
    samples = np.asarray(out["samples_ms"])
    expected = _by_hand_half_width(samples, 0.9)
    assert out["latency"]["ci_half_width_ms"] == pytest.approx(expected, rel=1e-9)
    assert out["latency"]["p90_ms"] == pytest.approx(np.percentile(samples, 90))
    assert out["latency"]["median_ms"] == pytest.approx(np.median(samples))
    assert out["latency"]["std_ms"] == pytest.approx(samples.std(ddof=1))
    # Stopped at the first n where the half-width fell below 5% of the mean.
    assert expected < 0.05 * samples.mean()
    previous = samples[:-1]
    assert _by_hand_half_width(previous, 0.9) >= 0.05 * previous.mean()


def test_it_times_the_first_inference_apart_and_excludes_warmup() -> None:
    durations = np.array([50.0] + [20.0] * 5 + [10.0] * 100)
    clock = FakeClock(durations)
    out = run_protocol(clock.infer, ProtocolConfig(warmup_runs=5), clock=clock)
    assert out["first_inference_ms"] == pytest.approx(50.0)
    assert out["samples_ms"] == pytest.approx([10.0] * out["latency"]["runs"])
    assert clock.calls == 1 + 5 + out["latency"]["runs"]


def test_it_never_stops_on_ci_before_min_runs() -> None:
    config = ProtocolConfig(min_runs=20)
    assert should_stop([10.0] * 19, config, elapsed=0.1) == (False, None)
    assert should_stop([10.0] * 20, config, elapsed=0.1) == (True, "ci_met")


def test_it_decides_the_same_incrementally_and_from_the_whole_sample() -> None:
    rng = np.random.default_rng(4)
    samples = list(rng.lognormal(0.0, 0.4, 400))
    config = ProtocolConfig(max_runs=400)
    rule = StopRule(config)
    for n in range(1, len(samples) + 1):
        elapsed = sum(samples[:n]) / 1000
        incremental = rule.add(samples[n - 1], elapsed)
        assert incremental == should_stop(samples[:n], config, elapsed)


def test_it_flags_a_wide_spread_unstable_even_when_the_ci_rule_is_met() -> None:
    samples = [0.7, 1.3] * 100  # coefficient of variation 0.3
    assert ci_half_width(samples) < 0.05 * np.mean(samples)
    stats = LatencyStats.from_samples(samples, "ci_met")
    assert stats.cv > MAX_STABLE_CV
    assert stats.rule_met is True and stats.stable is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("warmup_runs", -1),
        ("min_runs", 1),
        ("max_runs", 5),
        ("max_seconds", 0),
        ("ci_level", 1.0),
        ("target_rel_ci", -0.1),
        ("idle_seconds", -1.0),
        ("sample_hz", 0),
        ("min_runs", True),
    ],
)
def test_it_rejects_bad_parameters_naming_them(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"Received: {name}={value!r}"):
        ProtocolConfig(**{name: value})


def test_it_round_trips_its_config() -> None:
    config = ProtocolConfig(warmup_runs=2, min_runs=3, max_seconds=1.5, sample_hz=200)
    again = ProtocolConfig.from_config(config.get_config())
    assert again == config
    assert again.get_config()["sample_hz"] == 200.0
