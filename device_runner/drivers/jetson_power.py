"""Jetson power: INA3221 rails in sysfs (both L4T layouts) and ``tegrastats`` lines.

The parsing lives in the board agent (``device_runner.agent.rails``, stdlib
only, Python 3.6+) because that is where the rails are read during a remote
measurement; this module re-exports it for the host and wraps the sysfs
readers as ``PowerSampler``s, for a runner that runs on the Jetson itself.

Layouts:
- L4T 32 and earlier: ``/sys/bus/i2c/drivers/ina3221x/<bus-addr>/iio:deviceN/``
  ``rail_name_<ch>`` and ``in_power<ch>_input`` in mW.
- L4T 34+: ``/sys/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmonN/`` ``in<ch>_label``,
  ``in<ch>_input`` in mV and ``curr<ch>_input`` in mA; power = V x I.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from device_runner.agent.measure import l4t_release
from device_runner.agent.rails import (
    WHOLE_MODULE_RAILS,
    hwmon_rails,
    ina3221_rails,
    parse_tegrastats,
    select_rails,
)
from measurements.power.base import PowerSampler

__all__ = [
    "WHOLE_MODULE_RAILS",
    "HwmonSampler",
    "Ina3221Sampler",
    "hwmon_rails",
    "ina3221_rails",
    "l4t_release",
    "parse_tegrastats",
    "rail_power_w",
    "select_rails",
]


def _number(path: str) -> float:
    with open(path, "rb") as handle:  # a fresh open each time: sysfs regenerates the value
        return float(handle.read().strip())


def rail_power_w(root: str | Path, layout: str, rails: Sequence[str] | str | None) -> float:
    """Summed power (W) of ``rails`` read once from the ``ina3221`` or ``hwmon`` layout.

    Raises:
        ValueError: no rails of that layout under ``root``, or a named rail is missing.
    """
    return _JetsonSampler.for_layout(layout, root, rails).read()


class _JetsonSampler(PowerSampler):
    layout = "abstract"
    method = "measured (Jetson INA3221)"

    def __init__(
        self,
        root: str | Path = "/sys",
        rails: Sequence[str] | str | None = None,
        sample_hz: float = 1000.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(sample_hz, clock)
        self.root = str(root)
        self.wanted = rails
        self.rails: list[str] = []
        self._paths: list[Any] = []

    @staticmethod
    def for_layout(layout: str, root: str | Path, rails: Any) -> _JetsonSampler:
        classes = {cls.name: cls for cls in (Ina3221Sampler, HwmonSampler)}
        if layout not in classes:
            raise ValueError(f"layout must be one of {sorted(classes)}. Received: {layout=}")
        sampler = classes[layout](root, rails)
        reason = sampler.unavailable_reason()
        if reason is not None:
            raise ValueError(reason)
        return sampler

    def _find(self) -> dict[str, Any]:
        raise NotImplementedError

    def unavailable_reason(self) -> str | None:
        """Why the rails cannot be read here (none found, a named rail missing), or None."""
        found = self._find()
        if not found:
            return f"No Jetson {self.name} power rails under {self.root}"
        try:
            self.rails = select_rails(list(found), self.wanted)
        except ValueError as exc:
            return str(exc)
        self._paths = [found[r] for r in self.rails]
        return None


class Ina3221Sampler(_JetsonSampler):
    """INA3221 rails of L4T 32 and earlier (``in_power<ch>_input``, mW)."""

    name = "ina3221"

    def _find(self) -> dict[str, Any]:
        return ina3221_rails(self.root)

    def read(self) -> float:
        """Summed power of the selected rails, W."""
        return sum(_number(p) for p in self._paths) / 1000.0


class HwmonSampler(_JetsonSampler):
    """INA3221 hwmon rails of L4T 34+ (mV x mA)."""

    name = "hwmon"

    def _find(self) -> dict[str, Any]:
        return hwmon_rails(self.root)

    def read(self) -> float:
        """Summed power of the selected rails, W (mV x mA / 1e6)."""
        return sum(_number(v) * _number(a) for v, a in self._paths) / 1e6
