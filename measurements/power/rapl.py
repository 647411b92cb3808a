"""Intel RAPL power sampler (Linux powercap energy counters).

Each package domain ``/sys/class/powercap/intel-rapl:N`` exposes
``energy_uj``, a cumulative energy counter in microjoules that wraps back to
zero after ``max_energy_range_uj``. Power over one sampling interval is the
counter delta divided by the interval. Sub-domains (``intel-rapl:N:M``: cores,
uncore, DRAM) are parts of their package and are not added again.

Since Linux 5.10 ``energy_uj`` is readable only by root (CVE-2020-8694, the
"Platypus" side channel), so the common failure is a PermissionError, which
is reported with the fix.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from measurements.power.base import PowerSampler, RawSample, Sample

DEFAULT_ROOT = Path("/sys/class/powercap")
MEASURED_METHOD_RAPL = "measured (Intel RAPL)"
_PACKAGE_DIR = re.compile(r"^intel-rapl:\d+$")


@dataclass(frozen=True)
class RaplDomain:
    """One package-level RAPL domain."""

    name: str
    energy_path: Path
    max_range_uj: int


def read_counter(path: Path) -> int:
    """Read one integer sysfs value (a fresh open each time: sysfs regenerates it)."""
    with open(path, "rb") as handle:
        return int(handle.read().strip())


def counter_delta_uj(previous: int, current: int, max_range_uj: int) -> int:
    """Energy between two counter readings, undoing one wrap-around.

    The counter runs from 0 to ``max_range_uj`` and then restarts at 0, so a
    reading lower than the previous one means it wrapped once in between
    (at 1 kHz sampling a second wrap would need megawatts).
    """
    delta = current - previous
    return delta + max_range_uj if delta < 0 else delta


def _unreadable(path: Path, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return (
            f"RAPL energy counter {path} is readable only by root: "
            "run runjobs as root or chmod o+r it"
        )
    return f"Cannot read RAPL energy counter {path}: {exc}"


class RaplSampler(PowerSampler):
    """Package power of this host from Intel RAPL (AMD Zen exposes it too).

    Args:
        root: the powercap directory; tests point it at a directory they write.
        sample_hz: target sampling rate, Hz.
        clock: seconds, monotonic; the protocol's clock.
    """

    name = "rapl"
    method = MEASURED_METHOD_RAPL

    def __init__(
        self,
        root: str | Path = DEFAULT_ROOT,
        sample_hz: float = 1000.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(sample_hz=sample_hz, clock=clock)
        self.root = Path(root)
        self.domains: list[RaplDomain] = []

    def _discover(self) -> str | None:
        dirs = sorted(p for p in self.root.glob("intel-rapl:*") if _PACKAGE_DIR.match(p.name))
        if not dirs:
            return (
                f"No Intel RAPL domain under {self.root} (expected "
                f"{self.root}/intel-rapl:N/energy_uj): the intel_rapl powercap driver is "
                "not loaded or this CPU or VM does not expose RAPL"
            )
        domains = []
        for directory in dirs:
            energy, limit = directory / "energy_uj", directory / "max_energy_range_uj"
            for path in (energy, limit):
                try:
                    value = read_counter(path)
                except OSError as exc:
                    return _unreadable(path, exc)
                except ValueError:
                    return f"RAPL file {path} does not hold an integer"
            try:
                label = (directory / "name").read_text().strip()
            except OSError:
                label = directory.name
            domains.append(RaplDomain(label, energy, value))
        self.domains = domains
        return None

    def unavailable_reason(self) -> str | None:
        """Why RAPL cannot be read here (missing, root-only, malformed), or None."""
        return self._discover()

    def read(self) -> tuple[int, ...]:
        """Current energy counter of every package domain, microjoules."""
        try:
            return tuple(read_counter(d.energy_path) for d in self.domains)
        except OSError as exc:
            raise OSError(_unreadable(exc.filename or self.root, exc)) from exc

    def to_power(self, raw: list[RawSample]) -> list[Sample]:
        """Counter readings to package power (all packages summed), watts.

        Each power value is the mean over one sampling interval, stamped at the
        interval's midpoint so integrating the curve gives back the energy.
        """
        out: list[Sample] = []
        for (t0, e0), (t1, e1) in zip(raw, raw[1:], strict=False):
            dt = t1 - t0
            if dt <= 0:
                continue
            joules = 1e-6 * sum(
                counter_delta_uj(a, b, d.max_range_uj)
                for a, b, d in zip(e0, e1, self.domains, strict=True)
            )
            out.append(((t0 + t1) / 2.0, joules / dt))
        return out
