"""Android battery power: ``current_now`` x ``voltage_now`` of the battery power supply.

The kernel ABI (Documentation/ABI/testing/sysfs-class-power) gives
``current_now`` in microamps, negative while the battery discharges, and
``voltage_now`` in microvolts. Vendors differ: some report milliamps or
millivolts, many report discharge as positive. So each device carries a
scale (multiplier from the raw integer to amps or volts) and a sign (+1/-1,
chosen so a phone drawing power reads positive), and ``calibrate_battery``
suggests them from readings taken while a known load runs.

The figure only means the phone's draw when the battery feeds the phone
alone: with USB charging on, the charger supplies part of the power and the
battery current says little about it (see ``USB_WARNING``).

The sampler takes a ``reader`` returning the raw text of both files, so this
module needs no adb: the adb driver passes a function that runs ``adb shell
cat``. Plain Python: no Django import.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from measurements.power.base import PowerSampler, RawSample, Sample

DEFAULT_BATTERY_DIR = "/sys/class/power_supply/battery"
MEASURED_METHOD_ANDROID = "measured (Android battery current x voltage)"
MICRO = 1e-6  # kernel ABI: µA and µV
# Raw-to-SI multipliers a vendor may use: micro (ABI), milli, or plain units.
CANDIDATE_SCALES = (1e-6, 1e-3, 1.0)
# A single Li-ion cell sits between about 3.0 V (empty) and 4.45 V (HV cells, full).
CELL_VOLTS = (2.5, 5.0)
# The best-fitting current unit must land within this factor of the known power.
CALIBRATION_TOLERANCE = 3.0
USB_WARNING = (
    "Battery power counts only while the phone runs on its battery: unplug USB power and use "
    "adb over Wi-Fi, or stop charging with the vendor's sysfs switch (rooted phones); "
    "`dumpsys battery unplug` only changes what Android reports. Otherwise the charger "
    "supplies part of the draw and the figure means nothing."
)


def battery_watts(
    current_raw: float,
    voltage_raw: float,
    current_scale: float = MICRO,
    current_sign: int = -1,
    voltage_scale: float = MICRO,
) -> float:
    """Power drawn from the battery, watts, from raw ``current_now`` and ``voltage_now``.

    Args:
        current_raw: the integer read from ``current_now``.
        voltage_raw: the integer read from ``voltage_now``.
        current_scale: amps per raw unit (1e-6 for the ABI's µA, 1e-3 for mA).
        current_sign: -1 when discharge reads negative (the ABI), +1 when positive.
        voltage_scale: volts per raw unit (1e-6 for the ABI's µV, 1e-3 for mV).
    """
    return current_sign * current_raw * current_scale * voltage_raw * voltage_scale


def check_battery_settings(current_scale: Any, current_sign: Any, voltage_scale: Any) -> None:
    """Raise ``ValueError`` naming the first bad scale or sign setting."""
    for name, value in (("current_scale", current_scale), ("voltage_scale", voltage_scale)):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number. Received: {name}={value!r}")
    if current_sign not in (1, -1) or isinstance(current_sign, bool):
        raise ValueError(f"current_sign must be 1 or -1. Received: current_sign={current_sign!r}")


def parse_battery_text(text: str) -> tuple[int, int]:
    """``(current_now, voltage_now)`` from the output of ``cat current_now voltage_now``."""
    values = text.split()
    if len(values) != 2:
        raise ValueError(
            f"Expected two integers (current_now, voltage_now). Received: {text.strip()!r}"
        )
    try:
        return int(values[0]), int(values[1])
    except ValueError:
        raise ValueError(
            f"Battery files do not hold integers. Received: {text.strip()!r}"
        ) from None


class AndroidBatterySampler(PowerSampler):
    """Battery power of a phone, read through ``reader`` at up to ``sample_hz``.

    Args:
        reader: returns the text of ``cat current_now voltage_now`` (one read
            per call); raises on failure.
        current_scale: amps per raw ``current_now`` unit.
        current_sign: +1 or -1, so that drawing power reads positive.
        voltage_scale: volts per raw ``voltage_now`` unit.
        sample_hz: target rate; fuel gauges update a few times a second at most.
        clock: seconds, monotonic; the clock the run window is taken on.
    """

    name = "android-battery"
    method = MEASURED_METHOD_ANDROID

    def __init__(
        self,
        reader: Callable[[], str],
        current_scale: float = MICRO,
        current_sign: int = -1,
        voltage_scale: float = MICRO,
        sample_hz: float = 5.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(sample_hz=sample_hz, clock=clock)
        check_battery_settings(current_scale, current_sign, voltage_scale)
        self.reader = reader
        self.current_scale = float(current_scale)
        self.current_sign = int(current_sign)
        self.voltage_scale = float(voltage_scale)

    def unavailable_reason(self) -> str | None:
        """Why the battery files cannot be read, or None."""
        try:
            parse_battery_text(self.reader())
        except Exception as exc:  # the reader's own error says what failed (adb, permission)
            return f"Cannot read the battery current and voltage: {exc}"
        return None

    def read(self) -> tuple[int, int]:
        """One raw ``(current_now, voltage_now)`` pair."""
        return parse_battery_text(self.reader())

    def to_power(self, raw: list[RawSample]) -> list[Sample]:
        """Raw pairs to ``(t, watts)`` with this device's scale and sign."""
        return [
            (t, battery_watts(i, v, self.current_scale, self.current_sign, self.voltage_scale))
            for t, (i, v) in raw
        ]


def _voltage_scale(voltages: Sequence[float]) -> float:
    median = statistics.median(abs(v) for v in voltages)
    for scale in CANDIDATE_SCALES:
        if CELL_VOLTS[0] <= median * scale <= CELL_VOLTS[1]:
            return scale
    raise ValueError(
        f"No unit makes voltage_now a battery cell's {CELL_VOLTS[0]}-{CELL_VOLTS[1]} V. "
        f"Received: median voltage_now={median:g}"
    )


def calibrate_battery(
    samples_current: Sequence[float],
    samples_voltage: Sequence[float],
    known_power_w: float,
) -> dict[str, Any]:
    """Suggest ``current_scale``, ``current_sign`` and ``voltage_scale`` for a phone.

    Take raw readings while the phone draws a power known some other way (a USB
    power meter on a battery-less supply, or the vendor's figure for a steady
    load) with charging off.

    Args:
        samples_current: raw ``current_now`` readings.
        samples_voltage: raw ``voltage_now`` readings taken with them.
        known_power_w: the power drawn meanwhile, watts (> 0).

    Returns:
        ``current_scale``, ``current_sign``, ``voltage_scale``, ``power_w`` (the
        mean power with those settings) and ``ratio`` (``power_w / known_power_w``).

    Raises:
        ValueError: inputs empty or mismatched, the power not positive, no unit
            giving a cell voltage, or no current unit within a factor of 3.
    """
    if not (isinstance(known_power_w, int | float) and known_power_w > 0):
        raise ValueError(f"known_power_w must be > 0 W. Received: known_power_w={known_power_w!r}")
    if not samples_current or len(samples_current) != len(samples_voltage):
        raise ValueError(
            "samples_current and samples_voltage must be non-empty and of equal length. "
            f"Received: {len(samples_current)} and {len(samples_voltage)} samples"
        )
    mean_current = statistics.fmean(samples_current)
    if mean_current == 0:
        raise ValueError("current_now read 0 throughout. Received: mean current_now=0")
    voltage_scale = _voltage_scale(samples_voltage)
    sign = 1 if mean_current > 0 else -1
    # Mean of the products, not product of the means: current and voltage co-vary.
    raw_power = statistics.fmean(
        sign * i * v * voltage_scale for i, v in zip(samples_current, samples_voltage, strict=True)
    )
    scale = min(CANDIDATE_SCALES, key=lambda s: abs(math.log(raw_power * s / known_power_w)))
    ratio = raw_power * scale / known_power_w
    if not 1 / CALIBRATION_TOLERANCE <= ratio <= CALIBRATION_TOLERANCE:
        raise ValueError(
            f"No current unit (µA, mA, A) brings the readings within {CALIBRATION_TOLERANCE:g}x "
            f"of {known_power_w:g} W (closest {raw_power * scale:.3g} W): was the phone "
            f"charging, or is the known power wrong? Received: known_power_w={known_power_w}"
        )
    return {
        "current_scale": scale,
        "current_sign": sign,
        "voltage_scale": voltage_scale,
        "power_w": raw_power * scale,
        "ratio": ratio,
    }
