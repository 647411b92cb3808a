"""Provenance from a fake sysfs/procfs the test writes, and the comparability check."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from measurements.provenance import collect_provenance, comparable

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz

processor\t: 1
model name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def fake_host(tmp_path: Path) -> tuple[Path, Path]:
    sysfs, procfs = tmp_path / "sys", tmp_path / "proc"
    _write(procfs / "cpuinfo", CPUINFO)
    for cpu, cur in ((0, 1_900_000), (1, 2_100_000)):
        freq = sysfs / f"devices/system/cpu/cpu{cpu}/cpufreq"
        _write(freq / "scaling_governor", "performance\n")
        _write(freq / "scaling_cur_freq", f"{cur}\n")
        _write(freq / "scaling_min_freq", "400000\n")
        _write(freq / "scaling_max_freq", f"{4_200_000 - cpu * 100_000}\n")
    _write(sysfs / "class/thermal/thermal_zone0/temp", "47500\n")
    _write(sysfs / "class/thermal/thermal_zone0/type", "x86_pkg_temp\n")
    _write(sysfs / "class/thermal/thermal_zone1/type", "acpitz\n")  # no temp file
    return sysfs, procfs


def test_it_reads_cpu_governor_frequencies_and_temperature(fake_host: tuple[Path, Path]) -> None:
    sysfs, procfs = fake_host
    prov = collect_provenance(3, delegate="xnnpack", sysfs=sysfs, procfs=procfs)
    assert prov["num_threads"] == 3 and prov["delegate"] == "xnnpack"
    assert prov["cpu_model"] == "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz"
    assert prov["governor"] == "performance"
    assert prov["freq_cur_khz"] == [1_900_000, 2_100_000]
    assert prov["freq_min_khz"] == 400_000 and prov["freq_max_khz"] == 4_200_000
    assert prov["temperature_c"] == {"thermal_zone0:x86_pkg_temp": 47.5}
    assert prov["runtime"] == "ai_edge_litert"
    assert prov["runtime_version"] == importlib.metadata.version("ai-edge-litert")
    assert len(prov["load_avg"]) == 3 and prov["cpu_count"] >= 1


def test_it_gives_none_for_what_it_cannot_read(tmp_path: Path) -> None:
    prov = collect_provenance(1, sysfs=tmp_path / "nosys", procfs=tmp_path / "noproc")
    for key in ("cpu_model", "governor", "freq_cur_khz", "freq_max_khz", "temperature_c"):
        assert prov[key] is None, key
    assert prov["os"] and prov["python"]


def test_it_reads_an_arm_cpuinfo(tmp_path: Path) -> None:
    _write(tmp_path / "cpuinfo", "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd07\n")
    prov = collect_provenance(1, sysfs=tmp_path, procfs=tmp_path)
    assert prov["cpu_model"] == "0x41:0xd07"


def test_it_lists_why_two_measurements_are_not_comparable(fake_host: tuple[Path, Path]) -> None:
    sysfs, procfs = fake_host
    a = collect_provenance(1, sysfs=sysfs, procfs=procfs)
    assert comparable(a, dict(a)) == []
    _write(sysfs / "devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave\n")
    _write(sysfs / "devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave\n")
    b = collect_provenance(2, sysfs=sysfs, procfs=procfs)
    b["runtime_version"] = "0.0.1"
    reasons = comparable(a, b)
    assert len(reasons) == 3
    assert "num_threads differs: 1 vs 2" in reasons
    assert "governor differs: 'performance' vs 'powersave'" in reasons
    assert any(r.startswith("runtime_version differs") for r in reasons)
