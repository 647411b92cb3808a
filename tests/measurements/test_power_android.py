"""Android battery power: unit conversion, the sampler, and the calibration helper."""

from __future__ import annotations

import itertools

import pytest

from measurements.power.android import (
    USB_WARNING,
    AndroidBatterySampler,
    battery_watts,
    calibrate_battery,
    parse_battery_text,
)
from measurements.power.base import PowerSamplerError


def test_it_converts_abi_units_with_discharge_negative() -> None:
    # -500 000 µA at 3 900 000 µV: 0.5 A x 3.9 V = 1.95 W drawn.
    assert battery_watts(-500_000, 3_900_000) == pytest.approx(1.95)


def test_it_converts_vendor_milliamps_and_positive_discharge() -> None:
    # 420 mA at 3 850 000 µV, discharge reported positive: 0.42 A x 3.85 V.
    watts = battery_watts(420, 3_850_000, current_scale=1e-3, current_sign=1)
    assert watts == pytest.approx(0.42 * 3.85)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"current_scale": 0}, "current_scale"),
        ({"voltage_scale": -1e-6}, "voltage_scale"),
        ({"current_sign": 2}, "current_sign"),
        ({"current_sign": True}, "current_sign"),
    ],
)
def test_it_refuses_bad_scale_or_sign(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"Received: {name}="):
        AndroidBatterySampler(lambda: "1\n2\n", **kwargs)


def test_it_parses_the_cat_output_of_both_files() -> None:
    assert parse_battery_text("-123456\n3900000\n") == (-123456, 3_900_000)
    with pytest.raises(ValueError, match="two integers"):
        parse_battery_text("-123456\n")
    with pytest.raises(ValueError, match="integers"):
        parse_battery_text("cat: no such file\nx\n")


def test_it_samples_through_the_reader_and_converts() -> None:
    readings = itertools.cycle(["-400000\n4000000\n", "-600000\n4000000\n"])
    ticks = itertools.count()
    sampler = AndroidBatterySampler(
        lambda: next(readings), sample_hz=200, clock=lambda: next(ticks) * 0.01
    )
    assert sampler.unavailable_reason() is None
    sampler.start()
    samples = sampler.stop()
    assert len(samples) >= 2
    # Every sample is one of the two readings, converted: 1.6 W or 2.4 W, never raw.
    assert {round(w, 6) for _, w in samples} <= {1.6, 2.4}
    assert [t for t, _ in samples] == sorted(t for t, _ in samples)


def test_it_reports_an_unreadable_battery() -> None:
    def broken() -> str:
        raise OSError("cat: /sys/class/power_supply/battery/current_now: Permission denied")

    sampler = AndroidBatterySampler(broken)
    assert "Permission denied" in sampler.unavailable_reason()
    with pytest.raises(PowerSamplerError, match="Permission denied"):
        sampler.start()


def test_it_calibrates_abi_units_and_negative_discharge() -> None:
    # 2.0 W known; the phone reads about -512 820 µA at 3.9 V (2.0 / 3.9 A).
    current = [-500_000, -525_640]
    voltage = [3_900_000, 3_900_000]
    suggestion = calibrate_battery(current, voltage, known_power_w=2.0)
    assert suggestion["current_scale"] == 1e-6
    assert suggestion["voltage_scale"] == 1e-6
    assert suggestion["current_sign"] == -1
    expected = (500_000 + 525_640) / 2 * 1e-6 * 3.9
    assert suggestion["power_w"] == pytest.approx(expected)
    assert suggestion["ratio"] == pytest.approx(expected / 2.0)


def test_it_calibrates_vendor_milliamps_millivolts_positive() -> None:
    suggestion = calibrate_battery([300, 320], [3850, 3860], known_power_w=1.2)
    assert (suggestion["current_scale"], suggestion["voltage_scale"]) == (1e-3, 1e-3)
    assert suggestion["current_sign"] == 1
    expected = (300 * 3.85 + 320 * 3.86) / 2 * 1e-3
    assert suggestion["power_w"] == pytest.approx(expected)
    # The suggestion turns raw readings into the known power through battery_watts.
    watts = battery_watts(300, 3850, suggestion["current_scale"], 1, suggestion["voltage_scale"])
    assert watts == pytest.approx(0.3 * 3.85)


@pytest.mark.parametrize(
    ("current", "voltage", "power", "match"),
    [
        ([], [], 1.0, "non-empty"),
        ([1, 2], [3_900_000], 1.0, "equal length"),
        ([-500_000], [3_900_000], 0, "known_power_w"),
        ([0, 0], [3_900_000, 3_900_000], 1.0, "read 0"),
        ([-500_000], [12_000], 1.0, "battery cell"),
        # 0.5 A x 3.9 V = 1.95 W cannot be 50 W in any unit: charging or a wrong figure.
        ([-500_000], [3_900_000], 50.0, "charging"),
    ],
)
def test_it_refuses_readings_no_unit_explains(current, voltage, power, match) -> None:
    with pytest.raises(ValueError, match=match):
        calibrate_battery(current, voltage, known_power_w=power)


def test_it_warns_that_usb_power_must_be_off() -> None:
    assert "USB" in USB_WARNING and "charging" in USB_WARNING
