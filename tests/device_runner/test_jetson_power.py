"""Jetson power: tegrastats lines of TX2, Nano and Orin, and both INA3221 sysfs layouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from device_runner.drivers.jetson_power import (
    HwmonSampler,
    Ina3221Sampler,
    hwmon_rails,
    ina3221_rails,
    l4t_release,
    parse_tegrastats,
    rail_power_w,
    select_rails,
)

# tegrastats on a TX2 with JetPack 4 (L4T 32): rails in mW with no unit.
TX2_JP4 = (
    "RAM 2203/7846MB (lfb 1218x4MB) SWAP 0/3923MB (cached 0MB) "
    "CPU [2%@345,off,off,1%@345,0%@345,0%@345] EMC_FREQ 0% GR3D_FREQ 0% PLL@36C MCPU@36C "
    "PMIC@100C Tboard@32C GPU@34.5C BCPU@36C thermal@35.3C Tdiode@33.25C "
    "VDD_IN 3801/3801 VDD_SYS_CPU 610/610 VDD_SYS_GPU 152/152 VDD_SYS_SOC 685/685 "
    "VDD_4V0_WIFI 0/0 VDD_SYS_DDR 1023/1023"
)
# A later TX2 line, under load: instant and average differ.
TX2_JP4_LOAD = (
    "RAM 2311/7846MB (lfb 1190x4MB) SWAP 0/3923MB (cached 0MB) "
    "CPU [98%@2035,off,off,97%@2035,99%@2035,96%@2035] EMC_FREQ 12%@1866 GR3D_FREQ 0%@1300 "
    "APE 150 PLL@41C MCPU@41C PMIC@100C Tboard@35C GPU@38C BCPU@41C thermal@39.4C "
    "Tdiode@37.5C VDD_IN 6498/5149 VDD_SYS_CPU 3052/1831 VDD_SYS_GPU 153/152 "
    "VDD_SYS_SOC 839/762 VDD_4V0_WIFI 0/0 VDD_SYS_DDR 1561/1292"
)
# Jetson Nano, JetPack 4: POM_ rail names.
NANO = (
    "RAM 1496/3956MB (lfb 89x4MB) SWAP 0/1978MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
    "CPU [12%@102,10%@102,5%@102,5%@102] EMC_FREQ 2%@1600 GR3D_FREQ 0%@76 APE 25 PLL@21C "
    "CPU@23.5C PMIC@100C GPU@23C AO@29C thermal@23.25C POM_5V_IN 2125/2125 POM_5V_GPU 0/0 "
    "POM_5V_CPU 424/424"
)
# AGX Orin, JetPack 5: a timestamp, the mW unit, and two "NC" (not connected) rails.
ORIN_JP5 = (
    "11-24-2026 23:31:00 RAM 2869/30536MB (lfb 6405x4MB) SWAP 0/15268MB (cached 0MB) "
    "CPU [1%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,off,off,off,off] "
    "EMC_FREQ 0%@2133 GR3D_FREQ 0%@[0,0] VIC_FREQ 729 APE 174 CV0@-256C CPU@42.843C "
    "Tboard@32C SOC2@39.156C Tdiode@33C SOC0@40.031C CV1@-256C GPU@-256C tj@42.843C "
    "SOC1@38.781C CV2@-256C VDD_GPU_SOC 2400mW/2400mW VDD_CPU_CV 800mW/1200mW "
    "VIN_SYS_5V0 3721mW/3690mW NC 0mW/0mW VDDQ_VDD2_1V8AO 302mW/302mW NC 0mW/0mW"
)


def test_it_reads_every_tx2_jetpack4_rail() -> None:
    assert parse_tegrastats(TX2_JP4) == {
        "VDD_IN": (3801, 3801),
        "VDD_SYS_CPU": (610, 610),
        "VDD_SYS_GPU": (152, 152),
        "VDD_SYS_SOC": (685, 685),
        "VDD_4V0_WIFI": (0, 0),
        "VDD_SYS_DDR": (1023, 1023),
    }
    assert parse_tegrastats(TX2_JP4_LOAD) == {
        "VDD_IN": (6498, 5149),
        "VDD_SYS_CPU": (3052, 1831),
        "VDD_SYS_GPU": (153, 152),
        "VDD_SYS_SOC": (839, 762),
        "VDD_4V0_WIFI": (0, 0),
        "VDD_SYS_DDR": (1561, 1292),
    }


def test_it_reads_the_nano_pom_rails_and_skips_memory_fields() -> None:
    assert parse_tegrastats(NANO) == {
        "POM_5V_IN": (2125, 2125),
        "POM_5V_GPU": (0, 0),
        "POM_5V_CPU": (424, 424),
    }


def test_it_reads_orin_jetpack5_rails_with_the_mw_unit() -> None:
    assert parse_tegrastats(ORIN_JP5) == {
        "VDD_GPU_SOC": (2400, 2400),
        "VDD_CPU_CV": (800, 1200),
        "VIN_SYS_5V0": (3721, 3690),
        "NC": (0, 0),
        "VDDQ_VDD2_1V8AO": (302, 302),
    }


def test_it_finds_no_rail_in_a_line_without_power_fields() -> None:
    assert parse_tegrastats("RAM 2203/7846MB (lfb 1218x4MB) SWAP 0/3923MB IRAM 0/252kB") == {}


def _sysfs_device(root: Path, driver: str, bus_addr: str) -> Path:
    """As in real sysfs: the driver's entry is a symlink to the device, which links back."""
    device = root / "devices/platform/i2c" / bus_addr
    device.mkdir(parents=True)
    drivers = root / "bus/i2c/drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    (drivers / bus_addr).symlink_to(device, target_is_directory=True)
    (device / "driver").symlink_to(drivers, target_is_directory=True)  # the loop
    return device


def write_ina3221(root: Path, rails: dict[str, float]) -> None:
    """L4T 32 layout: up to three rails per iio device, power in mW."""
    names = list(rails)
    for chip, start in enumerate(range(0, len(names), 3)):
        device = _sysfs_device(root, "ina3221x", f"0-004{chip}") / f"iio:device{chip}"
        device.mkdir(parents=True)
        for channel, name in enumerate(names[start : start + 3]):
            (device / f"rail_name_{channel}").write_text(name + "\n")
            (device / f"in_power{channel}_input").write_text(f"{rails[name]:g}\n")
            (device / f"in_voltage{channel}_input").write_text("5000\n")


def write_hwmon(root: Path, rails: dict[str, tuple[float, float]]) -> None:
    """L4T 34+ layout: labels, mV and mA per channel (1-based), and Orin's shunt-sum label."""
    device = _sysfs_device(root, "ina3221", "1-0040") / "hwmon/hwmon3"
    device.mkdir(parents=True)
    for channel, (name, (mv, ma)) in enumerate(rails.items(), start=1):
        (device / f"in{channel}_label").write_text(name + "\n")
        (device / f"in{channel}_input").write_text(f"{mv:g}\n")
        (device / f"curr{channel}_input").write_text(f"{ma:g}\n")
    (device / "in7_label").write_text("sum of shunt voltages\n")
    (device / "in7_input").write_text("40\n")


TX2_RAILS = {
    "VDD_IN": 5000,
    "VDD_SYS_CPU": 1200,
    "VDD_SYS_GPU": 300,
    "VDD_SYS_SOC": 700,
    "VDD_SYS_DDR": 900,
}
ORIN_RAILS = {"VDD_IN": (5000, 1200), "VDD_CPU_GPU_CV": (4950, 400), "VDD_SOC": (4980, 300)}


def test_it_finds_ina3221_rails_across_iio_devices(tmp_path: Path) -> None:
    write_ina3221(tmp_path, TX2_RAILS)
    rails = ina3221_rails(str(tmp_path))
    assert sorted(rails) == sorted(TX2_RAILS)
    assert rail_power_w(tmp_path, "ina3221", "VDD_IN") == pytest.approx(5.0)
    cpu_gpu_ddr = ["VDD_SYS_CPU", "VDD_SYS_GPU", "VDD_SYS_DDR"]
    assert rail_power_w(tmp_path, "ina3221", cpu_gpu_ddr) == pytest.approx(1.2 + 0.3 + 0.9)


def test_it_multiplies_hwmon_millivolts_by_milliamps(tmp_path: Path) -> None:
    write_hwmon(tmp_path, ORIN_RAILS)
    rails = hwmon_rails(str(tmp_path))
    assert sorted(rails) == sorted(ORIN_RAILS)  # the shunt-sum label has no current: skipped
    assert rail_power_w(tmp_path, "hwmon", None) == pytest.approx(5000 * 1200 / 1e6)
    both = ["VDD_CPU_GPU_CV", "VDD_SOC"]
    assert rail_power_w(tmp_path, "hwmon", both) == pytest.approx((4950 * 400 + 4980 * 300) / 1e6)


def test_it_reads_fresh_values_while_sampling(tmp_path: Path) -> None:
    write_ina3221(tmp_path, {"VDD_IN": 4000})
    sampler = Ina3221Sampler(tmp_path, "VDD_IN", sample_hz=500)
    assert sampler.unavailable_reason() is None
    sampler.start()
    power = next(tmp_path.rglob("in_power0_input"))
    power.write_text("6000\n")
    time.sleep(0.05)
    samples = sampler.stop()
    watts = {w for _, w in samples}
    assert watts == {4.0, 6.0}
    assert samples[-1][1] == 6.0


def test_it_says_why_rails_are_unavailable(tmp_path: Path) -> None:
    assert "No Jetson hwmon power rails" in HwmonSampler(tmp_path).unavailable_reason()
    write_ina3221(tmp_path, {"VDD_IN": 4000, "VDD_SYS_CPU": 100})
    reason = Ina3221Sampler(tmp_path, ["VDD_SYS_GPU"]).unavailable_reason()
    assert "VDD_SYS_GPU not found" in reason and "VDD_IN, VDD_SYS_CPU" in reason


def test_it_defaults_to_the_whole_module_rail() -> None:
    assert select_rails(["POM_5V_GPU", "POM_5V_IN"], None) == ["POM_5V_IN"]
    assert select_rails(["VDD_SYS_CPU", "VDD_IN"], "") == ["VDD_IN"]
    with pytest.raises(ValueError, match="no whole-module rail"):
        select_rails(["VDD_GPU_SOC", "VDD_CPU_CV"], None)


def test_it_reads_the_l4t_version() -> None:
    tx2 = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t186ref, EABI: aarch64"
    orin = "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64"
    assert l4t_release(tx2) == "32.7.1"
    assert l4t_release(orin) == "35.4.1"
    assert l4t_release(None) is None
