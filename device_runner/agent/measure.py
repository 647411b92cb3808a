"""Measurement agent run on a board by the ``ssh`` driver; prints one JSON document.

Usage on the board: ``python3 measure.py < args.json`` (measure) or
``python3 measure.py --probe < args.json`` (health check). Arguments:
``model_path``, ``num_threads``, ``protocol`` (``ProtocolConfig.get_config()``),
``seed``, ``delegate``, ``artifact_sha256``, ``sensor`` (``ina3221`` | ``hwmon``
| ``tegrastats`` | ``none``), ``power_root`` (sysfs root), ``rail`` (a name or
a list whose powers are added), ``tegrastats`` (its path), ``jetson_clocks``.

It runs on Python 3.6+ (JetPack 4 ships 3.6), so it uses the standard library
only (``typing`` comments, no dataclasses, no walrus) plus NumPy and the
board's LiteRT (``tflite_runtime`` or ``ai_edge_litert``), imported lazily so
the host can import this module for its parsers. It repeats the protocol of
``measurements.protocol`` (same stop rule, same figures) and the energy sums
of ``measurements.power.integrate``, because neither can be copied with their
SciPy/Django-free but Python 3.11 code; host tests compare the two.
"""

# Python 3.6 has no builtin generics, ``X | None``, ``zip(strict=)`` nor ``run(text=)``;
# the typing names are used by the ``# type:`` comments ruff does not read.
# ruff: noqa: F401, UP004, UP006, UP007, UP021, UP031, UP035, UP045, B905

import glob
import json
import math
import os
import platform
import re
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

MAX_STABLE_CV = 0.25  # as measurements.stats: above it a latency is flagged unstable
MAX_POWER_POINTS = 1000
MIN_ENERGY_PERIODS = 200  # as the local child: the energy window spans >= 200 sampling periods
WHOLE_MODULE_RAILS = ("VDD_IN", "POM_5V_IN")  # TX2/Xavier/Orin input rail, Nano's
TEGRASTATS_MIN_INTERVAL_MS = 10  # tegrastats reads every sensor per line: 100 Hz at most
OP_REASON = "not measured: the ssh agent times the whole model only"

# ---------------------------------------------------------------- statistics


def _normal_quantile(p):
    # type: (float) -> float
    """Standard normal quantile, Acklam's rational approximation (rel. error 1.2e-9)."""
    a = (-39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269,
         -30.6647980661472, 2.50662827745924)  # fmt: skip
    b = (-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197,
         -13.2806815528857)  # fmt: skip
    c = (-0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373,
         4.37466414146497, 2.93816398269878)  # fmt: skip
    d = (0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742)
    if p < 0.02425 or p > 1 - 0.02425:
        q = math.sqrt(-2 * math.log(min(p, 1 - p)))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
        return x if p < 0.5 else -x
    q = p - 0.5
    r = q * q
    num = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
    return num / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def _betacf(a, b, x):
    # type: (float, float, float) -> float
    """Continued fraction of the incomplete beta function (Numerical Recipes 6.4, Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                   -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):  # fmt: skip
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _t_upper_tail(t, dof):
    # type: (float, float) -> float
    """P(T > t) for t >= 0: half the regularised incomplete beta I_{v/(v+t^2)}(v/2, 1/2)."""
    x = dof / (dof + t * t)
    a, b = dof / 2.0, 0.5
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 0.5
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return 0.5 * front * _betacf(a, b, x) / a
    return 0.5 * (1.0 - front * _betacf(b, a, 1.0 - x) / b)


_T_CACHE = {}  # type: Dict[Tuple[float, int], float]


def t_quantile(level, dof):
    # type: (float, int) -> float
    """Two-sided Student t critical value, ``scipy.stats.t.ppf((1 + level) / 2, dof)``.

    SciPy is not on boards. Exact closed forms for 1 and 2 degrees of freedom;
    otherwise the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5) from
    the normal quantile, refined by Newton steps on the exact tail (incomplete
    beta function), so it agrees with SciPy to about 1e-9 (host tests check it).
    """
    key = (level, dof)
    if key in _T_CACHE:
        return _T_CACHE[key]
    p = (1.0 + level) / 2.0
    if dof == 1:
        t = math.tan(math.pi * (p - 0.5))
    elif dof == 2:
        t = (2 * p - 1) * math.sqrt(2.0 / (4 * p * (1 - p)))
    else:
        z, v = _normal_quantile(p), float(dof)
        t = z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        t += (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        t += (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
        log_norm = math.lgamma((v + 1) / 2) - math.lgamma(v / 2) - 0.5 * math.log(v * math.pi)
        for _ in range(50):
            pdf = math.exp(log_norm - (v + 1) / 2 * math.log1p(t * t / v))
            step = (_t_upper_tail(t, v) - (1.0 - p)) / pdf
            t = max(t + step, t / 2.0)  # Newton on the tail; never jump below zero
            if abs(step) < 1e-12 * max(1.0, t):
                break
    _T_CACHE[key] = t
    return t


def ci_half_width_from_moments(n, std, level):
    # type: (int, float, float) -> float
    """Half-width of the Student t CI of the mean; ``inf`` below two samples."""
    if n < 2:
        return math.inf
    return t_quantile(level, n - 1) * std / math.sqrt(n)


def percentile(sorted_values, q):
    # type: (Sequence[float], float) -> float
    """Percentile ``q`` (0-100) with linear interpolation, NumPy's default method."""
    pos = (len(sorted_values) - 1) * q / 100.0
    low = int(math.floor(pos))
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def latency_stats(samples_ms, reason, level):
    # type: (Sequence[float], str, float) -> Dict[str, Any]
    """The figures of ``measurements.stats.LatencyStats.to_dict()``."""
    n = len(samples_ms)
    mean = sum(samples_ms) / n
    std = math.sqrt(sum((s - mean) ** 2 for s in samples_ms) / (n - 1)) if n > 1 else 0.0
    cv = std / mean if mean > 0 else math.inf
    ordered = sorted(samples_ms)
    half = ci_half_width_from_moments(n, std, level)
    return {
        "mean_ms": mean,
        "median_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "std_ms": std,
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "ci_half_width_ms": half if math.isfinite(half) else None,
        "ci_level": level,
        "cv": cv if math.isfinite(cv) else None,
        "runs": n,
        "stop_reason": reason,
        "rule_met": reason == "ci_met",
        "stable": reason == "ci_met" and cv <= MAX_STABLE_CV,
    }


class StopRule(object):
    """The stop rule of ``measurements.protocol.StopRule``, with Welford moments."""

    def __init__(self, config):
        # type: (Dict[str, Any]) -> None
        self.config = config
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, sample, elapsed):
        # type: (float, float) -> Tuple[bool, Optional[str]]
        """Record one sample (ms) after ``elapsed`` timed seconds; ``(stop, reason)``."""
        cfg = self.config
        self.n += 1
        delta = sample - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (sample - self.mean)
        std = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        half = ci_half_width_from_moments(self.n, std, cfg["ci_level"])
        if self.n >= cfg["min_runs"] and half < cfg["target_rel_ci"] * self.mean:
            return True, "ci_met"
        if self.n >= cfg["max_runs"]:
            return True, "max_runs"
        if elapsed >= cfg["max_seconds"] and self.n >= 2:
            return True, "time_cap"
        return False, None


def run_protocol(infer, config, clock=time.perf_counter):
    # type: (Callable[[], Any], Dict[str, Any], Callable[[], float]) -> Dict[str, Any]
    """First inference, warm-up, then timed runs until the stop rule says so."""
    start = clock()
    infer()
    first_ms = (clock() - start) * 1000.0
    for _ in range(config["warmup_runs"]):
        infer()
    rule, samples = StopRule(config), []  # type: StopRule, List[float]
    window_start = clock()
    while True:
        t0 = clock()
        infer()
        t1 = clock()
        samples.append((t1 - t0) * 1000.0)
        stop, reason = rule.add(samples[-1], t1 - window_start)
        if stop:
            break
    return {
        "first_inference_ms": first_ms,
        "latency": latency_stats(samples, str(reason), config["ci_level"]),
        "window_start": window_start,
        "window_end": clock(),
    }


# ---------------------------------------------------------------- energy


def _interp(t, times, watts):
    # type: (float, List[float], List[float]) -> float
    if t <= times[0]:
        return watts[0]
    if t >= times[-1]:
        return watts[-1]
    for i in range(1, len(times)):
        if times[i] >= t:
            span = times[i] - times[i - 1]
            frac = (t - times[i - 1]) / span if span > 0 else 1.0
            return watts[i - 1] + (watts[i] - watts[i - 1]) * frac
    return watts[-1]


def integrate_energy_j(samples, start, end):
    # type: (Sequence[Tuple[float, float]], float, float) -> float
    """Trapezoid integral (J) of the power curve over ``[start, end]``, as integrate.py."""
    if not end > start or len(samples) < 2:
        raise ValueError("need a window that ends after it starts and two power samples")
    times = [s[0] for s in samples]
    watts = [s[1] for s in samples]
    points = [(start, _interp(start, times, watts))]
    points += [(t, w) for t, w in samples if start < t < end]
    points.append((end, _interp(end, times, watts)))
    return sum((b[0] - a[0]) * (a[1] + b[1]) / 2.0 for a, b in zip(points, points[1:]))


def summarise_energy(samples, idle_window, run_window, runs):
    # type: (Sequence[Tuple[float, float]], Optional[Tuple[float, float]], Tuple[float, float], int) -> Dict[str, Any]  # noqa: E501
    """Idle power, run power and energy per inference (mJ, idle deducted), as integrate.py."""
    idle_w = (
        integrate_energy_j(samples, *idle_window) / (idle_window[1] - idle_window[0])
        if (idle_window)
        else 0.0
    )
    total_j = integrate_energy_j(samples, *run_window)
    duration = run_window[1] - run_window[0]
    span = samples[-1][0] - samples[0][0]
    return {
        "idle_power_w": idle_w if idle_window else None,
        "average_power_w": total_j / duration,
        "energy_mj": (total_j - idle_w * duration) / runs * 1000.0,
        "idle_deducted": idle_window is not None,
        "samples": len(samples),
        "sample_rate_hz": (len(samples) - 1) / span if span > 0 else None,
    }


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
    the hwmonN number changes between boots, so the tree is walked. Labels
    without a current file (Orin's "sum of shunt voltages") are skipped.
    """
    base = os.path.join(root, "bus/i2c/drivers/ina3221")
    rails = {}  # type: Dict[str, Tuple[str, str]]
    for directory, _dirs, files in sorted(os.walk(base, followlinks=False)):
        for name in sorted(files):
            match = re.match(r"^in(\d+)_label$", name)
            if not match:
                continue
            volts = os.path.join(directory, "in%s_input" % match.group(1))
            amps = os.path.join(directory, "curr%s_input" % match.group(1))
            if os.path.exists(volts) and os.path.exists(amps):
                rails.setdefault(_read_text(os.path.join(directory, name)), (volts, amps))
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


# ---------------------------------------------------------------- provenance


def l4t_release(text):
    # type: (Optional[str]) -> Optional[str]
    """L4T version from ``/etc/nv_tegra_release`` (``# R32 (release), REVISION: 7.1`` -> 32.7.1)."""
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text or "")
    return "%s.%s" % (match.group(1), match.group(2)) if match else None


def _maybe(path):
    # type: (str) -> Optional[str]
    try:
        return _read_text(path)
    except (OSError, UnicodeDecodeError):
        return None


def cpu_model(cpuinfo):
    # type: (Optional[str]) -> Optional[str]
    """CPU model from cpuinfo, as measurements.provenance.cpu_model."""
    fields = {}  # type: Dict[str, str]
    for line in (cpuinfo or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    for key in ("model name", "Model", "Hardware", "Processor", "cpu model"):
        if fields.get(key):
            return fields[key]
    part = fields.get("CPU part")
    return "%s:%s" % (fields.get("CPU implementer", "?"), part) if part else None


def _cpufreq():
    # type: () -> Dict[str, Any]
    cpus = glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq")
    governors = sorted({g for g in (_maybe(c + "/scaling_governor") for c in cpus) if g})
    highs = [_maybe(c + "/scaling_max_freq") for c in cpus]
    lows = [_maybe(c + "/scaling_min_freq") for c in cpus]
    cur = [_maybe(c + "/scaling_cur_freq") for c in sorted(cpus, key=lambda p: int(p[27:-8]))]
    high = [int(v) for v in highs if v and v.isdigit()]
    low = [int(v) for v in lows if v and v.isdigit()]
    return {
        "governor": ",".join(governors) or None,
        "freq_cur_khz": [int(v) if v and v.isdigit() else None for v in cur] or None,
        "freq_min_khz": min(low) if low else None,
        "freq_max_khz": max(high) if high else None,
    }


def apply_jetson_clocks(requested, command="jetson_clocks"):
    # type: (bool, str) -> str
    """Run ``jetson_clocks`` (clocks pinned at maximum) when asked; the state, in words."""
    if not requested:
        return "not requested"
    argv = [command] if os.geteuid() == 0 else ["sudo", "-n", command]
    try:
        proc = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
            universal_newlines=True,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "failed: %s" % exc
    if proc.returncode != 0:
        return "failed (exit %d): %s" % (proc.returncode, proc.stdout.strip()[-300:])
    return "applied"


def provenance(args, runtime, version):
    # type: (Dict[str, Any], str, Optional[str]) -> Dict[str, Any]
    """The keys of measurements.provenance.collect_provenance, plus the board's own."""
    uname = platform.uname()
    try:
        affinity = len(os.sched_getaffinity(0))  # type: Optional[int]
    except (AttributeError, OSError):
        affinity = None
    temps = {}  # type: Dict[str, float]
    for zone in sorted(glob.glob("/sys/class/thermal/thermal_zone*")):
        milli = _maybe(zone + "/temp")
        if milli and milli.lstrip("-").isdigit():
            label = "%s:%s" % (os.path.basename(zone), _maybe(zone + "/type") or "?")
            temps[label] = int(milli) / 1000.0
    tegra = _maybe("/etc/nv_tegra_release")
    out = {
        "runtime": runtime,
        "runtime_version": version,
        "delegate": args.get("delegate", "none"),
        "num_threads": int(args.get("num_threads", 1)),
        "artifact_sha256": args.get("artifact_sha256"),
        "python": platform.python_version(),
        "os": uname[0],
        "kernel": uname[2],
        "machine": uname[4],
        "hostname": uname[1],
        "uname": " ".join(uname),
        "cpu_model": cpu_model(_maybe("/proc/cpuinfo")),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "temperature_c": temps or None,
        "load_avg": [round(x, 3) for x in os.getloadavg()],
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "nv_tegra_release": tegra.splitlines()[0] if tegra else None,
        "l4t_version": l4t_release(tegra),
        "jetson_clocks": args.get("jetson_clocks_state", "not requested"),
    }
    out.update(_cpufreq())
    return out


# ---------------------------------------------------------------- measuring


class RuntimeMissing(Exception):
    """Neither tflite_runtime nor ai_edge_litert imports with this Python."""


def load_runtime():
    # type: () -> Tuple[Any, str, Optional[str]]
    """The Interpreter class, the runtime's name and version."""
    errors = []
    for name in ("tflite_runtime", "ai_edge_litert"):
        try:
            module = __import__(name + ".interpreter", fromlist=["Interpreter"])
        except ImportError as exc:
            errors.append("%s: %s" % (name, exc))
            continue
        version = getattr(sys.modules[name], "__version__", None)
        if version is None:
            try:
                import importlib.metadata as metadata  # Python 3.8+

                version = metadata.version(name.replace("_", "-"))
            except Exception:
                version = None
        return module.Interpreter, name, version
    raise RuntimeMissing(
        "no TFLite runtime for %s (%s); install tflite_runtime or ai-edge-litert for it"
        % (sys.executable, "; ".join(errors))
    )


def _maxrss_bytes():
    # type: () -> int
    text = _maybe("/proc/self/status") or ""
    match = re.search(r"^VmHWM:\s+(\d+)", text, re.M)  # this process image's peak, kB
    if match:
        return int(match.group(1)) * 1024
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _inputs(details, seed):
    # type: (List[Dict[str, Any]], int) -> List[Any]
    import numpy as np

    rng = np.random.RandomState(seed)  # old NumPy on JetPack 4 has no default_rng
    arrays = []
    for detail in details:
        shape, dtype = tuple(detail["shape"]), np.dtype(detail["dtype"])
        if dtype.kind == "f":
            arrays.append(rng.random_sample(shape).astype(dtype))
        elif dtype.kind in "iub":
            arrays.append(rng.randint(0, 2 if dtype.kind == "b" else 128, shape).astype(dtype))
        else:
            raise ValueError("unsupported input dtype %s for %r" % (dtype, detail["name"]))
    return arrays


def _timed(infer, config, sampler):
    # type: (Callable[[], Any], Dict[str, Any], Optional[Sampler]) -> Dict[str, Any]
    """The protocol, with the sampler around it: idle first, then the runs (as the child)."""
    if sampler is None:
        return dict(run_protocol(infer, config), energy=None, power=None)
    sampler.start()
    idle = None
    if config["idle_seconds"] > 0:
        idle_start = time.perf_counter()
        time.sleep(config["idle_seconds"])  # idle power just before the runs (seed 001)
        idle = (idle_start, time.perf_counter())
    run = run_protocol(infer, config)
    runs = run["latency"]["runs"]
    min_end = run["window_start"] + MIN_ENERGY_PERIODS * sampler.period
    while time.perf_counter() < min_end:
        infer()
        runs += 1
    window = (run["window_start"], time.perf_counter())
    samples = sampler.stop()
    energy = summarise_energy(samples, idle, window, runs)
    energy.update(
        method="measured (Jetson %s, rails %s)" % (sampler.name, "+".join(sampler.rails)),
        sensor=sampler.name, rails=sampler.rails, runs=runs, window_s=window[1] - window[0],
    )  # fmt: skip
    step = max(1, len(samples) // MAX_POWER_POINTS)
    power = [[t - run["window_start"], w] for t, w in samples[::step]]
    return dict(run, energy=energy, power=power)


def measure(args):
    # type: (Dict[str, Any]) -> Dict[str, Any]
    """Load, time and (when a sensor is set) power-sample one model."""
    interpreter_cls, runtime, version = load_runtime()  # first: the likeliest board problem
    config = args["protocol"]
    threads = int(args["num_threads"])
    args = dict(args, jetson_clocks_state=apply_jetson_clocks(bool(args.get("jetson_clocks"))))
    prov = provenance(args, runtime, version)
    sampler = make_sampler(args, config["sample_hz"])
    baseline = _maxrss_bytes()
    start = time.perf_counter()
    try:
        interpreter = interpreter_cls(model_path=args["model_path"], num_threads=threads)
        interpreter.allocate_tensors()
    except Exception as exc:
        msg = "the runtime cannot load the model: %s: %s" % (type(exc).__name__, exc)
        raise ValueError(msg) from exc
    init_ms = (time.perf_counter() - start) * 1000.0
    inputs = _inputs(interpreter.get_input_details(), int(args.get("seed", 0)))
    in_idx = [d["index"] for d in interpreter.get_input_details()]
    out_idx = [d["index"] for d in interpreter.get_output_details()]

    def infer():
        # type: () -> None
        for index, array in zip(in_idx, inputs):
            interpreter.set_tensor(index, array)
        interpreter.invoke()
        for index in out_idx:
            interpreter.get_tensor(index)

    run = _timed(infer, config, sampler)
    return {
        "latency": run["latency"],
        "init_ms": init_ms,
        "first_inference_ms": run["first_inference_ms"],
        "peak_memory_bytes": _maxrss_bytes(),
        "baseline_memory_bytes": baseline,
        "energy": run["energy"],
        "energy_reason": None if sampler else "no power sensor set for this device",
        "power": run["power"],
        "op_breakdown": None,
        "op_breakdown_method": None,
        "op_breakdown_reason": OP_REASON,
        "provenance": prov,
        "protocol": config,
    }


def probe(args):
    # type: (Dict[str, Any]) -> Dict[str, Any]
    """What a health check needs: Python, runtime, and the sensor's rails and one reading."""
    out = {"python": platform.python_version(), "executable": sys.executable}  # type: Dict
    try:
        _cls, name, version = load_runtime()
        out.update(runtime=name, runtime_version=version, runtime_error=None)
    except RuntimeMissing as exc:
        out.update(runtime=None, runtime_version=None, runtime_error=str(exc))
    out["l4t_version"] = l4t_release(_maybe("/etc/nv_tegra_release"))
    try:
        sampler = make_sampler(args, 1000.0)
        if sampler is None:
            out.update(sensor=None, sensor_error=None)
        else:
            watts = sampler.read()
            if isinstance(sampler, TegrastatsSampler):
                sampler.proc.terminate()
            out.update(sensor=sampler.name, rails=sampler.rails, watts=watts, sensor_error=None)
    except Exception as exc:
        out.update(sensor=None, sensor_error="%s: %s" % (type(exc).__name__, exc))
    return out


def main(argv):
    # type: (List[str]) -> int
    """Read the JSON arguments from stdin, measure (or ``--probe``), print one JSON document."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a native library prints lands on stderr, not in the JSON
    kind = None
    try:
        args = json.loads(sys.stdin.read() or "{}")
        document, status = (probe(args) if "--probe" in argv else measure(args)), 0
    except RuntimeMissing as exc:
        document, status, kind = {"error": str(exc)}, 3, "runtime_missing"
    except Exception as exc:  # reported to the driver as a document, not a stack dump
        document, status = {"error": "%s: %s" % (type(exc).__name__, exc)}, 2
        document["traceback"] = traceback.format_exc()
    if kind:
        document["error_kind"] = kind
    out.write(json.dumps(document))
    out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
