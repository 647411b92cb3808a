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
the host can import it too. The driver copies its three files side by side:
this one, ``timing.py`` (the host protocol's stop rule and energy sums, which
need SciPy and Python 3.11 on the host) and ``rails.py`` (Jetson power rails).
"""

# Python 3.6 has no builtin generics, ``X | None``, ``zip(strict=)`` nor ``run(text=)``;
# the typing names are used by the ``# type:`` comments ruff does not read.
# ruff: noqa: F401, UP004, UP006, UP007, UP021, UP031, UP035, UP045, B905
import glob
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

try:  # on the host, as a package
    from device_runner.agent.rails import Sampler, TegrastatsSampler, make_sampler
    from device_runner.agent.timing import run_protocol, summarise_energy
except ImportError:  # on the board, the agent's files sit side by side in the run directory
    from rails import Sampler, TegrastatsSampler, make_sampler
    from timing import run_protocol, summarise_energy

MAX_POWER_POINTS = 1000
MIN_ENERGY_PERIODS = 200  # as the local child: the energy window spans >= 200 sampling periods
OP_REASON = "not measured: the ssh agent times the whole model only"

# ---------------------------------------------------------------- provenance


def l4t_release(text):
    # type: (Optional[str]) -> Optional[str]
    """L4T version from ``/etc/nv_tegra_release`` (``# R32 (release), REVISION: 7.1`` -> 32.7.1)."""
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text or "")
    return "%s.%s" % (match.group(1), match.group(2)) if match else None


def _maybe(path):
    # type: (str) -> Optional[str]
    try:
        with open(path) as handle:
            return handle.read().strip()
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
