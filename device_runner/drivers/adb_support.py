"""Settings, messages and result assembly of the ``adb`` driver. Pure functions, no adb calls.

Kept apart from ``adb.py`` (which talks to the phone) so each can be read
and tested alone: ``AdbSettings`` validates a Device's settings once,
``command`` builds the ``benchmark_model`` command line, ``build_result`` and
``energy_fields`` turn parsed output and battery samples into the
``MeasurementResult`` shape of ``device_runner.drivers.base``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_runner.drivers.base import DriverError, MeasurementResult, PreparedArtifact
from device_runner.drivers.benchmark_model_output import BenchmarkOutput, ProfileSection, RunStats
from measurements.power.android import (
    DEFAULT_BATTERY_DIR,
    MEASURED_METHOD_ANDROID,
    MICRO,
    USB_WARNING,
    check_battery_settings,
)
from measurements.power.integrate import average_power_w
from measurements.protocol import ProtocolConfig
from measurements.stats import MAX_STABLE_CV, ci_half_width_from_moments

BATTERY_FILES = ("current_now", "voltage_now")
STOP_REASON = "fixed_runs"
STOP_RULE_NOTE = (
    "not applied: benchmark_model ran its own fixed count (--num_runs, at least --min_secs); "
    "stable is judged from the coefficient of variation alone"
)
ACCURACY_NOTE = "evaluated on the host through the same .tflite (LiteRT), not on the phone"
OP_METHOD = "benchmark_model --enable_op_profiling (in-graph profiler, mean per node)"
MAX_POWER_POINTS = 1000
_HEX_MASK = re.compile(r"^(0x)?[0-9a-fA-F]+$")
MB = 1024 * 1024  # benchmark_model divides bytes by 1024 * 1024 for its "MB"


def _positive(settings: dict[str, Any], name: str, default: float | None) -> float | None:
    value = settings.get(name, default)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number. Received: {name}={value!r}")
    return float(value)


def _flag(settings: dict[str, Any], name: str, default: bool | None) -> bool | None:
    value = settings.get(name, default)
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false. Received: {name}={value!r}")
    return value


@dataclass(frozen=True)
class AdbSettings:
    """A Device's adb settings, validated (see ``device_runner.drivers.adb``)."""

    serial: str
    adb: str
    benchmark_binary: str
    remote_dir: str
    use_gpu: bool
    use_xnnpack: bool | None
    taskset: str | None
    num_runs: int | None
    min_secs: float | None
    power: bool
    battery_dir: str
    current_scale: float
    current_sign: int
    voltage_scale: float
    battery_hz: float
    adb_timeout_seconds: float
    push_timeout_seconds: float
    run_timeout_seconds: float | None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> AdbSettings:
        """Validate; raises ``ValueError("<what>. Received: <name>=<value>")``."""
        # The Device's address is the serial for adb (device_runner.devices passes it in).
        serial = settings.get("serial") or settings.get("address")
        if not isinstance(serial, str) or not serial.strip():
            raise ValueError(
                "serial (or the device's address) must be the phone's adb serial, the first "
                f"column of `adb devices`. Received: serial={serial!r}"
            )
        taskset = settings.get("taskset")
        if taskset is not None and not (isinstance(taskset, str) and _HEX_MASK.match(taskset)):
            raise ValueError(
                "taskset must be a hexadecimal CPU mask such as 'f0'. "
                f"Received: taskset={taskset!r}"
            )
        num_runs = settings.get("num_runs")
        if num_runs is not None and (not isinstance(num_runs, int) or num_runs < 1):
            raise ValueError(f"num_runs must be an integer >= 1. Received: num_runs={num_runs!r}")
        sign = settings.get("current_sign", -1)
        check_battery_settings(
            settings.get("current_scale", MICRO), sign, settings.get("voltage_scale", MICRO)
        )
        remote_dir = str(settings.get("remote_dir") or "/data/local/tmp").rstrip("/")
        return cls(
            serial=serial.strip(),
            adb=str(settings.get("adb") or "adb"),
            benchmark_binary=str(settings.get("benchmark_binary") or ""),
            remote_dir=remote_dir,
            use_gpu=bool(_flag(settings, "use_gpu", False)),
            use_xnnpack=_flag(settings, "use_xnnpack", None),
            taskset=taskset,
            num_runs=num_runs,
            min_secs=_positive(settings, "min_secs", None),
            power=bool(_flag(settings, "power", True)),
            battery_dir=str(settings.get("battery_dir") or DEFAULT_BATTERY_DIR).rstrip("/"),
            current_scale=float(settings.get("current_scale", MICRO)),
            current_sign=int(sign),
            voltage_scale=float(settings.get("voltage_scale", MICRO)),
            battery_hz=_positive(settings, "battery_hz", 5.0) or 5.0,
            adb_timeout_seconds=_positive(settings, "adb_timeout_seconds", 30.0) or 30.0,
            push_timeout_seconds=_positive(settings, "push_timeout_seconds", 300.0) or 300.0,
            run_timeout_seconds=_positive(settings, "run_timeout_seconds", None),
        )

    @property
    def binary_remote(self) -> str:
        """Where the binary is pushed on the phone."""
        return f"{self.remote_dir}/compresso_benchmark_model"

    @property
    def delegate(self) -> str:
        """The delegate asked of benchmark_model, as the provenance records it."""
        if self.use_gpu:
            return "gpu"
        if self.use_xnnpack is None:
            return "benchmark_model default"
        return "xnnpack" if self.use_xnnpack else "none (builtin kernels)"

    def run_counts(self, protocol: ProtocolConfig) -> tuple[int, float]:
        """``--num_runs`` and ``--min_secs``: the settings, else from the protocol.

        The protocol's ``min_runs`` is too few for a fixed count (it relies on
        the CI rule to go on), so at least 50 runs (benchmark_model's default),
        capped by ``max_runs``; at least 1 s (its default) within the time cap.
        """
        runs = self.num_runs or min(max(protocol.min_runs, 50), protocol.max_runs)
        secs = self.min_secs or min(1.0, protocol.max_seconds)
        return runs, secs

    def command(self, graph: str, num_threads: int, protocol: ProtocolConfig) -> str:
        """The shell command run on the phone."""
        runs, secs = self.run_counts(protocol)
        words = [
            self.binary_remote,
            f"--graph={graph}",
            f"--num_threads={num_threads}",
            f"--warmup_runs={protocol.warmup_runs}",
            f"--num_runs={runs}",
            f"--min_secs={secs:g}",
            f"--max_secs={protocol.max_seconds:g}",
            "--enable_op_profiling=true",
        ]
        if self.use_gpu:
            words.append("--use_gpu=true")
        if self.use_xnnpack is not None:
            words.append(f"--use_xnnpack={'true' if self.use_xnnpack else 'false'}")
        if self.taskset:
            words = ["taskset", self.taskset, *words]
        return shlex.join(words)


def check_binary(path: str) -> Path:
    """The host's ``benchmark_model`` binary, or a ``DriverError`` saying what is wrong."""
    if not path:
        raise DriverError(
            "Set the device's benchmark_binary setting to the host path of a benchmark_model "
            "built for the phone (TFLite/LiteRT tools/benchmark, android_arm64)"
        )
    binary = Path(path)
    if not binary.is_file():
        raise DriverError(f"benchmark_model binary {binary} does not exist (benchmark_binary)")
    if not os.access(binary, os.X_OK):
        raise DriverError(
            f"benchmark_model binary {binary} is not executable: run `chmod +x {binary}`"
        )
    return binary


def state_message(serial: str, state: str | None, detail: str = "") -> str:
    """Plain-language advice for a phone adb cannot use."""
    if state == "unauthorized":
        text = (
            f"Phone {serial} has not authorised this computer: unlock it and accept the "
            "'Allow USB debugging?' prompt (tick 'Always allow from this computer')"
        )
    elif state == "offline":
        text = (
            f"Phone {serial} is attached but offline: unplug and replug it, or run "
            "`adb kill-server` and try again"
        )
    elif state is None:
        text = (
            f"Phone {serial} is not connected: `adb devices` does not list it. Check the "
            "cable, that USB debugging is on, and the serial in the device's settings"
        )
    else:
        text = f"Phone {serial} is in state {state!r}, not ready for commands"
    return f"{text}. adb said: {detail}" if detail else text


def latency_dict(runs: RunStats, ci_level: float) -> dict[str, Any]:
    """``LatencyStats.to_dict`` shape from benchmark_model's run line (µs to ms).

    benchmark_model prints avg, std, min, max and on newer builds p5, median,
    p95, not the sample; p90 is not printed (None). Its std is the population
    one (``sqrt(E[x^2] - mean^2)`` in ``tensorflow/core/util/stats_calculator``);
    with tens of runs the n/(n-1) difference is below 2 %, so the CI uses it as is.
    """
    ms = {k: (v / 1000.0 if v is not None else None) for k, v in vars(runs).items() if k != "count"}
    mean, std, n = ms["avg_us"], ms["std_us"] or 0.0, runs.count
    cv = std / mean if mean else None
    half = ci_half_width_from_moments(n, std, ci_level)
    return {
        "mean_ms": mean,
        "median_ms": ms["median_us"],
        "p90_ms": None,
        "p5_ms": ms["p5_us"],
        "p95_ms": ms["p95_us"],
        "std_ms": std,
        "min_ms": ms["min_us"],
        "max_ms": ms["max_us"],
        "ci_half_width_ms": half if math.isfinite(half) else None,
        "ci_level": ci_level,
        "cv": cv,
        "runs": n,
        "stop_reason": STOP_REASON,
        "stop_rule": STOP_RULE_NOTE,
        "rule_met": False,
        "stable": cv is not None and cv <= MAX_STABLE_CV,
    }


def op_breakdown(section: ProfileSection | None) -> dict[str, Any] | None:
    """The local driver's breakdown shape from the timed runs' op tables."""
    if section is None or not (section.by_node_type or section.run_order):
        return None
    by_type: dict[str, dict[str, Any]] = {}
    for row in section.by_node_type:
        by_type[row.node_type] = {"ms": row.avg_ms, "count": row.count}
    if not by_type:  # no summary table: add up the Run Order rows
        for op in section.run_order:
            entry = by_type.setdefault(op.node_type, {"ms": 0.0, "count": 0})
            entry["ms"] += op.avg_ms
            entry["count"] += 1
    total = sum(entry["ms"] for entry in by_type.values())
    for entry in by_type.values():
        entry["share"] = entry["ms"] / total if total > 0 else None
    ops = [
        {"index": i, "type": op.node_type, "name": op.name, "mean_ms": op.avg_ms, "stable": None}
        for i, op in enumerate(section.run_order)
    ]
    return {
        "method": OP_METHOD,
        "scope": "in-graph",
        "sum_ms": total,
        "by_type": by_type,
        "ops": ops,
    }


def build_result(
    parsed: BenchmarkOutput,
    config: AdbSettings,
    protocol: ProtocolConfig,
    num_threads: int,
    prepared: PreparedArtifact,
) -> MeasurementResult:
    """The MeasurementResult of one successful run (energy filled in by the caller)."""
    assert parsed.runs is not None  # the driver refuses output without a run line
    breakdown = op_breakdown(parsed.regular_profile)
    runs, secs = config.run_counts(protocol)
    delegations = [vars(d) for d in parsed.delegations]
    provenance = {
        "runtime": "benchmark_model",
        "delegate": config.delegate,
        "delegations": delegations,
        "num_threads": num_threads,
        "artifact_sha256": prepared.sha256,
        "device_kind": "adb",
        "serial": config.serial,
        "taskset": config.taskset,
        "fixed_runs": {"num_runs": runs, "min_secs": secs, "warmup_runs": protocol.warmup_runs},
        "memory": f"benchmark_model {parsed.memory_kind or 'no'} memory line, MB x 2^20",
        "accuracy": ACCURACY_NOTE,
        "power_note": USB_WARNING,
    }
    overall = parsed.memory_overall_mb
    return {
        "latency": latency_dict(parsed.runs, protocol.ci_level),
        "init_ms": parsed.init_us / 1000.0 if parsed.init_us is not None else None,
        "first_inference_ms": (
            parsed.first_inference_us / 1000.0 if parsed.first_inference_us is not None else None
        ),
        "peak_memory_bytes": round(overall * MB) if overall is not None else None,
        "baseline_memory_bytes": None,
        "energy": None,
        "energy_reason": None,
        "power": None,
        "op_breakdown": breakdown,
        "op_breakdown_method": OP_METHOD if breakdown else None,
        "op_breakdown_reason": None if breakdown else "benchmark_model printed no op tables",
        "provenance": provenance,
        "protocol": protocol.get_config(),
    }  # type: ignore[typeddict-item]


def mean_power_w(samples: list[tuple[float, float]], window: tuple[float, float]) -> float:
    """Mean of the readings taken inside ``window`` (W); interpolated if there are none.

    Each battery reading is one ``adb shell cat`` of tens of milliseconds, so
    interpolating to a window's edge would borrow a reading from the other side
    (an idle figure taking in the run's start); readings come at a steady rate,
    so their plain mean is the time-weighted one.
    """
    inside = [w for t, w in samples if window[0] <= t <= window[1]]
    return statistics.fmean(inside) if inside else average_power_w(samples, *window)


def energy_fields(
    samples: list[tuple[float, float]],
    idle: tuple[float, float] | None,
    window: tuple[float, float],
    result: MeasurementResult,
    config: AdbSettings,
) -> dict[str, Any]:
    """``energy`` and ``power`` from battery samples around the benchmark_model run.

    The window spans the whole tool run (start-up, warm-up and timed runs), which
    the phone cannot time-stamp for us; so the energy of one inference is the mean
    power above idle over that window times the mean latency: W x ms = mJ.
    """
    idle_w = mean_power_w(samples, idle) if idle else None
    run_w = mean_power_w(samples, window)
    mean_ms = result["latency"]["mean_ms"]
    span = samples[-1][0] - samples[0][0] if len(samples) > 1 else 0.0
    energy = {
        "idle_power_w": idle_w,
        "average_power_w": run_w,
        "energy_mj": (run_w - (idle_w or 0.0)) * mean_ms,
        "idle_deducted": idle_w is not None,
        "samples": len(samples),
        "sample_rate_hz": (len(samples) - 1) / span if span > 0 else None,
        "method": MEASURED_METHOD_ANDROID,
        "sensor": f"android-battery ({config.battery_dir})",
        "window_s": window[1] - window[0],
        "basis": "(mean battery power over the benchmark_model run - idle) x mean latency",
        "battery_settings": {
            "current_scale": config.current_scale,
            "current_sign": config.current_sign,
            "voltage_scale": config.voltage_scale,
        },
        "warning": USB_WARNING,
    }
    step = max(1, len(samples) // MAX_POWER_POINTS)
    power = [[t - window[0], w] for t, w in samples[::step]]
    return {"energy": energy, "power": power, "energy_reason": None}
