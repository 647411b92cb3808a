"""The RAPL sampler on a powercap directory the test writes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from measurements.power import rapl
from measurements.power.base import PowerSamplerError
from measurements.power.integrate import integrate_energy_j
from measurements.power.rapl import RaplSampler, counter_delta_uj


def _write(path: Path, value: int) -> None:
    # Atomic replace so the sampling thread never reads a half-written file.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path)


def _domain(root: Path, name: str, energy: int, max_range: int) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "name").write_text("package-0\n")
    _write(directory / "energy_uj", energy)
    (directory / "max_energy_range_uj").write_text(f"{max_range}\n")
    return directory / "energy_uj"


def test_it_undoes_a_counter_wrap_around(tmp_path: Path) -> None:
    max_range = 1_000_000
    counter = _domain(tmp_path, "intel-rapl:0", 990_000, max_range)
    sampler = RaplSampler(root=tmp_path)
    assert sampler.unavailable_reason() is None
    raw = []
    # Every millisecond: +5 mJ, +8 mJ across the wrap, +5 mJ.
    for i, value in enumerate([990_000, 995_000, 3_000, 8_000]):
        _write(counter, value)
        raw.append((i * 0.001, sampler.read()))
    power = sampler.to_power(raw)
    assert [t for t, _ in power] == pytest.approx([0.0005, 0.0015, 0.0025])
    # (3_000 - 995_000 + 1_000_000) uJ = 8 mJ in 1 ms = 8 W.
    assert [w for _, w in power] == pytest.approx([5.0, 8.0, 5.0])
    assert counter_delta_uj(995_000, 3_000, max_range) == 8_000


def test_it_sums_packages_and_skips_their_subdomains(tmp_path: Path) -> None:
    a = _domain(tmp_path, "intel-rapl:0", 0, 10**9)
    b = _domain(tmp_path, "intel-rapl:1", 0, 10**9)
    core = _domain(tmp_path, "intel-rapl:0:0", 0, 10**9)
    sampler = RaplSampler(root=tmp_path)
    assert sampler.available()
    assert len(sampler.domains) == 2
    first = (0.0, sampler.read())
    _write(a, 2_000)
    _write(b, 1_000)
    _write(core, 500_000)  # part of package 0: must not be added again
    power = sampler.to_power([first, (0.001, sampler.read())])
    assert power[0][1] == pytest.approx(3.0)


def test_it_samples_a_counter_in_a_background_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _domain(tmp_path, "intel-rapl:0", 0, 10**12)
    lock, now = threading.Lock(), [0.0]

    def clock() -> float:  # fake time: 0.25 ms per look, whatever the host's load
        with lock:
            now[0] += 0.00025
            return now[0]

    def counter(path: Path) -> int:  # a package drawing exactly 10 W of fake time
        if Path(path).name == "max_energy_range_uj":
            return 10**12
        with lock:
            return int(round(10.0 * now[0] * 1e6))

    monkeypatch.setattr(rapl, "read_counter", counter)
    sampler = RaplSampler(root=tmp_path, sample_hz=500, clock=clock)
    sampler.start()
    time.sleep(0.2)
    samples = sampler.stop()
    times = [t for t, _ in samples]
    assert len(samples) > 10 and times == sorted(times)
    assert [w for _, w in samples] == pytest.approx([10.0] * len(samples), rel=1e-3)
    assert integrate_energy_j(samples, times[0], times[-1]) == pytest.approx(
        10.0 * (times[-1] - times[0]), rel=1e-3
    )


def test_it_says_when_there_is_no_rapl(tmp_path: Path) -> None:
    sampler = RaplSampler(root=tmp_path / "powercap")
    reason = sampler.unavailable_reason()
    assert reason is not None and "No Intel RAPL domain" in reason
    assert str(tmp_path / "powercap") in reason
    with pytest.raises(PowerSamplerError, match="No Intel RAPL domain"):
        sampler.start()


def test_it_explains_a_root_only_counter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = _domain(tmp_path, "intel-rapl:0", 0, 10**9)
    real_open = open

    def fake_open(path, *args, **kwargs):  # tests run as root: chmod 000 would not stop reads
        if Path(path).name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(rapl, "open", fake_open, raising=False)
    sampler = RaplSampler(root=tmp_path)
    expected = (
        f"RAPL energy counter {counter} is readable only by root: "
        "run runjobs as root or chmod o+r it"
    )
    assert sampler.unavailable_reason() == expected
    assert not sampler.available()
    with pytest.raises(PowerSamplerError) as caught:
        sampler.start()
    assert str(caught.value) == expected


def test_it_reports_a_counter_that_fails_while_sampling(tmp_path: Path) -> None:
    counter = _domain(tmp_path, "intel-rapl:0", 0, 10**9)
    sampler = RaplSampler(root=tmp_path, sample_hz=1000)
    sampler.start()
    counter.write_text("garbage\n")
    time.sleep(0.05)
    with pytest.raises(PowerSamplerError, match="rapl sampling failed"):
        sampler.stop()
