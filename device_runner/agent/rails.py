"""Jetson power rails on the board: INA3221 sysfs (both L4T layouts) and ``tegrastats``.

Part of the stdlib-only agent (Python 3.6+); ``device_runner.drivers.jetson_power``
imports the parsers from here so host and board read rails the same way.
"""

# Python 3.6 has no builtin generics, ``X | None``, ``zip(strict=)`` nor ``run(text=)``;
# the typing names are used by the ``# type:`` comments ruff does not read.
# ruff: noqa: F401, UP004, UP006, UP007, UP021, UP031, UP035, UP045, B905

import glob
import os
import re
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

WHOLE_MODULE_RAILS = ("VDD_IN", "POM_5V_IN")  # TX2/Xavier/Orin input rail, Nano's
TEGRASTATS_MIN_INTERVAL_MS = 10  # tegrastats reads every sensor per line: 100 Hz at most

# ---------------------------------------------------------------- Jetson rails

_TEGRA_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?(?![\w/])")


def parse_tegrastats(line):
    # type: (str) -> Dict[str, Tuple[int, int]]
    """Power rails of one ``tegrastats`` line: ``{name: (instant_mW, average_mW)}``.

    Rails print as ``NAME instant/average``, in mW without a unit up to
    JetPack 4 and with ``mW`` from JetPack 5. ``RAM 2203/7846MB`` and the like
    carry another unit and are skipped; a repeated name (Orin's ``NC``, not
    connected) keeps its first reading.
    """
    rails = {}  # type: Dict[str, Tuple[int, int]]
    for name, instant, average in _TEGRA_RAIL.findall(line):
        rails.setdefault(name, (int(instant), int(average)))
    return rails


def _read_text(path):
    # type: (str) -> str
    with open(path) as handle:
        return handle.read().strip()


def _read_number(path):
    # type: (str) -> float
    with open(path, "rb") as handle:  # a fresh open each time: sysfs regenerates the value
        return float(handle.read().strip())


def ina3221_rails(root):
    # type: (str) -> Dict[str, str]
    """L4T 32 and earlier: ``{rail: in_power<ch>_input path}`` (values in mW).

    Layout: ``<root>/bus/i2c/drivers/ina3221x/<bus-addr>/iio:deviceN/rail_name_<ch>``.
    """
    pattern = os.path.join(root, "bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_*")
    rails = {}  # type: Dict[str, str]
    for name_path in sorted(glob.glob(pattern)):
        channel = name_path.rsplit("_", 1)[1]
        power = os.path.join(os.path.dirname(name_path), "in_power%s_input" % channel)
        if os.path.exists(power):
            rails.setdefault(_read_text(name_path), power)
    return rails


def hwmon_rails(root):
    # type: (str) -> Dict[str, Tuple[str, str]]
    """L4T 34+: ``{rail: (in<ch>_input mV path, curr<ch>_input mA path)}``.

    Layout: ``<root>/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmonN/in<ch>_label``;
    the hwmonN number changes between boots, so every ``hwmon*`` directory is
    searched. ``<bus-addr>`` is a symlink into ``/sys/devices`` and the device
    links back to its driver, so the search globs through the links (a
    link-following ``os.walk`` would loop for ever, a plain one would miss
    them). Labels without a current file (Orin's "sum of shunt voltages") are
    skipped.
    """
    pattern = os.path.join(root, "bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label")
    rails = {}  # type: Dict[str, Tuple[str, str]]
    for label in sorted(glob.glob(pattern)):
        directory, name = os.path.split(label)
        match = re.match(r"^in(\d+)_label$", name)
        if not match:
            continue
        volts = os.path.join(directory, "in%s_input" % match.group(1))
        amps = os.path.join(directory, "curr%s_input" % match.group(1))
        if os.path.exists(volts) and os.path.exists(amps):
            rails.setdefault(_read_text(label), (volts, amps))
    return rails


def select_rails(available, wanted):
    # type: (Sequence[str], Any) -> List[str]
    """The rails to add up: ``wanted`` (a name or a list), or the whole-module input rail."""
    if wanted in (None, "", []):
        found = [r for r in WHOLE_MODULE_RAILS if r in available]
        if not found:
            raise ValueError(
                "no whole-module rail (%s) among the rails found: %s; set the device's "
                "'rail' setting" % (" or ".join(WHOLE_MODULE_RAILS), ", ".join(available) or "none")
            )
        return found[:1]
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    missing = [n for n in names if n not in available]
    if missing:
        raise ValueError(
            "rail %s not found; this board has: %s"
            % (", ".join(missing), ", ".join(sorted(available)) or "no rails")
        )
    return names


class Sampler(object):
    """Reads summed rail power (W) on a thread at up to ``sample_hz``, as PowerSampler."""

    name = "none"

    def __init__(self, sample_hz):
        # type: (float) -> None
        self.period = 1.0 / float(sample_hz)
        self.samples = []  # type: List[Tuple[float, float]]
        self.error = None  # type: Optional[BaseException]
        self._stop = threading.Event()
        self._thread = None  # type: Optional[threading.Thread]

    def read(self):
        # type: () -> float
        raise NotImplementedError

    def start(self):
        # type: () -> None
        self.samples = [(time.perf_counter(), self.read())]
        self._thread = threading.Thread(target=self._loop, name="power", daemon=True)
        self._thread.start()

    def _loop(self):
        # type: () -> None
        next_tick = time.perf_counter() + self.period
        try:
            while not self._stop.wait(max(0.0, next_tick - time.perf_counter())):
                self.samples.append((time.perf_counter(), self.read()))
                next_tick = max(next_tick + self.period, time.perf_counter())
        except Exception as exc:  # re-raised by stop(): a thread cannot raise
            self.error = exc

    def stop(self):
        # type: () -> List[Tuple[float, float]]
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise RuntimeError("%s sampling failed: %s" % (self.name, self.error))
        self.samples.append((time.perf_counter(), self.read()))
        return self.samples


class Ina3221Sampler(Sampler):
    """INA3221 rails of L4T 32 (``in_power<ch>_input``, mW)."""

    name = "ina3221"

    def __init__(self, root, rail, sample_hz):
        # type: (str, Any, float) -> None
        Sampler.__init__(self, sample_hz)
        found = ina3221_rails(root)
        if not found:
            raise ValueError("no INA3221 rails under %s/bus/i2c/drivers/ina3221x" % root)
        self.rails = select_rails(list(found), rail)
        self.paths = [found[r] for r in self.rails]

    def read(self):
        # type: () -> float
        return sum(_read_number(p) for p in self.paths) / 1000.0  # mW -> W


class HwmonSampler(Sampler):
    """INA3221 hwmon rails of L4T 34+: power = ``in<ch>_input`` mV x ``curr<ch>_input`` mA."""

    name = "hwmon"

    def __init__(self, root, rail, sample_hz):
        # type: (str, Any, float) -> None
        Sampler.__init__(self, sample_hz)
        found = hwmon_rails(root)
        if not found:
            raise ValueError("no INA3221 hwmon rails under %s/bus/i2c/drivers/ina3221" % root)
        self.rails = select_rails(list(found), rail)
        self.paths = [found[r] for r in self.rails]

    def read(self):
        # type: () -> float
        return sum(_read_number(v) * _read_number(a) for v, a in self.paths) / 1e6  # mV*mA -> W


class TegrastatsSampler(Sampler):
    """Rails parsed from ``tegrastats --interval`` lines (instant figure, mW)."""

    name = "tegrastats"

    def __init__(self, command, rail, sample_hz):
        # type: (str, Any, float) -> None
        Sampler.__init__(self, sample_hz)
        interval = max(TEGRASTATS_MIN_INTERVAL_MS, int(round(1000.0 / sample_hz)))
        self.period = interval / 1000.0
        self.proc = subprocess.Popen(
            [command, "--interval", str(interval)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
        )
        first = parse_tegrastats(self.proc.stdout.readline())
        self.rails = select_rails(list(first), rail)
        self.latest = self._watts(first)

    def _watts(self, rails):
        # type: (Dict[str, Tuple[int, int]]) -> float
        return sum(rails[r][0] for r in self.rails) / 1000.0

    def read(self):
        # type: () -> float
        return self.latest

    def _loop(self):
        # type: () -> None
        try:
            for line in self.proc.stdout:
                if self._stop.is_set():
                    break
                rails = parse_tegrastats(line)
                if rails:
                    self.latest = self._watts(rails)
                    self.samples.append((time.perf_counter(), self.latest))
        except Exception as exc:
            self.error = exc

    def stop(self):
        # type: () -> List[Tuple[float, float]]
        self._stop.set()
        self.proc.terminate()
        self.proc.wait()
        return Sampler.stop(self)


def make_sampler(args, sample_hz):
    # type: (Dict[str, Any], float) -> Optional[Sampler]
    """The sampler the arguments ask for, or None for ``sensor: none``; ValueError if absent."""
    sensor = args.get("sensor") or "none"
    root, rail = args.get("power_root") or "/sys", args.get("rail")
    if sensor == "none":
        return None
    if sensor == "ina3221":
        return Ina3221Sampler(root, rail, sample_hz)
    if sensor == "hwmon":
        return HwmonSampler(root, rail, sample_hz)
    if sensor == "tegrastats":
        return TegrastatsSampler(args.get("tegrastats") or "tegrastats", rail, sample_hz)
    raise ValueError("unknown sensor %r: use ina3221, hwmon, tegrastats or none" % sensor)
