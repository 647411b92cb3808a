"""Child process that measures one ``.tflite`` with LiteRT and prints one JSON document.

Run as ``python -m device_runner.drivers.child '<json args>'`` by the local
driver, so a model that crashes the interpreter kills only this process and
``ru_maxrss`` is this run's own peak memory. Arguments: ``model_path``,
``num_threads``, ``protocol`` (``ProtocolConfig.get_config()``), and
optionally ``seed``, ``delegate``, ``artifact_sha256``, ``rapl_root``,
``op_breakdown`` (bool).

Per-operator time (``breakdown``): LiteRT's CompiledModel profiler times
each operator inside whole runs; where it cannot, each operator is carved
out and timed alone. The whole model's latency is the ``Interpreter``'s,
timed with no profiler attached.

Stdout carries only the JSON: file descriptor 1 is pointed at stderr at
start-up so native libraries that print cannot corrupt it.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from typing import Any

from device_runner.drivers.breakdown import op_breakdown
from device_runner.drivers.invoke import make_infer, random_inputs
from measurements.power.integrate import summarise_energy
from measurements.power.rapl import DEFAULT_ROOT, RaplSampler
from measurements.protocol import ProtocolConfig, run_protocol
from measurements.provenance import collect_provenance

MAX_POWER_POINTS = 1000  # the trace in the Result is decimated to this many points
# The energy window spans at least this many sampling periods (0.2 s at 1 kHz):
# a tiny model meets the CI rule in a millisecond, shorter than RAPL's own ~1 ms
# counter update, so inference keeps running (untimed) until the window is long
# enough for the counter's steps to average out.
MIN_ENERGY_PERIODS = 200
CPU_KERNELS = "LiteRT builtin kernels, default XNNPACK delegate (op resolver AUTO)"


def _maxrss_bytes() -> int:
    # Linux keeps ru_maxrss across execve, so a child forked from a runner that
    # holds TensorFlow would report the runner's peak; VmHWM belongs to this
    # process image alone.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # Linux reports KiB


def _decimate(samples: list[tuple[float, float]], origin: float) -> list[list[float]]:
    step = max(1, len(samples) // MAX_POWER_POINTS)
    return [[t - origin, w] for t, w in samples[::step]]


def _timed_runs(infer: Any, config: ProtocolConfig, rapl_root: str) -> dict[str, Any]:
    """Run the protocol, sampling RAPL around it (idle first) when it is readable."""
    sampler = RaplSampler(root=rapl_root, sample_hz=config.sample_hz)
    reason = sampler.unavailable_reason()
    if reason is not None:
        run = run_protocol(infer, config)
        return {**run, "energy": None, "power": None, "energy_reason": reason}
    sampler.start()
    idle_start = time.perf_counter()
    time.sleep(config.idle_seconds)  # idle power just before the runs (seed 001)
    idle = (idle_start, time.perf_counter()) if config.idle_seconds > 0 else None
    run = run_protocol(infer, config)
    runs = run["latency"]["runs"]
    min_end = run["window_start"] + MIN_ENERGY_PERIODS / config.sample_hz
    while time.perf_counter() < min_end:
        infer()
        runs += 1
    window = (run["window_start"], time.perf_counter())
    samples = sampler.stop()
    energy = summarise_energy(samples, idle, window, runs)
    energy.update(
        method=sampler.method, sensor=sampler.name, runs=runs, window_s=window[1] - window[0]
    )
    power = _decimate(samples, run["window_start"])
    return {**run, "energy": energy, "power": power, "energy_reason": None}


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Load, time and profile one model; the JSON document the driver reads."""
    from ai_edge_litert.interpreter import Interpreter

    config = ProtocolConfig.from_config(args["protocol"])
    threads = int(args["num_threads"])
    provenance = collect_provenance(
        threads, args.get("delegate", "none"), artifact_sha256=args.get("artifact_sha256")
    )
    provenance["cpu_kernels"] = CPU_KERNELS
    baseline = _maxrss_bytes()
    start = time.perf_counter()
    interpreter = Interpreter(model_path=args["model_path"], num_threads=threads)
    interpreter.allocate_tensors()
    init_ms = (time.perf_counter() - start) * 1000.0
    seed = int(args.get("seed", 0))
    inputs = random_inputs(interpreter.get_input_details(), seed)
    run = _timed_runs(make_infer(interpreter, inputs), config, args.get("rapl_root", DEFAULT_ROOT))
    peak = _maxrss_bytes()  # before the breakdown, whose extra interpreters are not the run's
    breakdown, breakdown_reason = None, "not requested"
    if args.get("op_breakdown", True):
        try:
            breakdown = op_breakdown(args["model_path"], threads, config, inputs, seed)
            breakdown_reason = None
        except Exception as exc:  # the latency stands; say why no breakdown came with it
            breakdown_reason = f"not measured: {type(exc).__name__}: {exc}"
    return {
        "latency": run["latency"],
        "init_ms": init_ms,
        "first_inference_ms": run["first_inference_ms"],
        "peak_memory_bytes": peak,
        "baseline_memory_bytes": baseline,
        "energy": run["energy"],
        "energy_reason": run["energy_reason"],
        "power": run["power"],
        "op_breakdown": breakdown,
        "op_breakdown_method": breakdown["method"] if breakdown else None,
        "op_breakdown_reason": breakdown_reason,
        "provenance": provenance,
        "protocol": config.get_config(),
    }


def main(argv: list[str]) -> int:
    """Entry point: parse the JSON argument, measure, print one JSON document."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed to stdout lands on stderr
    try:
        if len(argv) != 2:
            raise ValueError("usage: python -m device_runner.drivers.child '<json args>'")
        document, status = measure(json.loads(argv[1])), 0
    except Exception as exc:  # reported to the driver as a document, not a stack dump
        document = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        status = 2
    out.write(json.dumps(document))
    out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
