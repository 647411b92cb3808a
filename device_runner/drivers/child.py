"""Child process that measures one ``.tflite`` with LiteRT and prints one JSON document.

Run as ``python -m device_runner.drivers.child '<json args>'`` by the local
driver, so a model that crashes the interpreter kills only this process and
``ru_maxrss`` is this run's own peak memory. Arguments: ``model_path``,
``num_threads``, ``protocol`` (``ProtocolConfig.get_config()``), and
optionally ``seed``, ``delegate``, ``artifact_sha256``, ``rapl_root``,
``op_breakdown`` (bool).

Per-operator time: LiteRT's Python interpreter exposes no op profiler (the
C++ ``benchmark_model --enable_op_profiling`` is not in the wheel), so each
operator is carved out of the ``.tflite`` into a single-op model, fed the
values its inputs had in a reference run of the whole model, and timed alone
with the same protocol. The sum of isolated ops differs from the whole
model's latency (no inter-op cache reuse, one invoke overhead per op); both
are reported, and the method says so.

Stdout carries only the JSON: file descriptor 1 is pointed at stderr at
start-up so native libraries that print cannot corrupt it.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np

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
OP_METHOD = (
    "measured: each operator carved into a single-op .tflite, fed its inputs from a "
    "reference run, timed alone with the protocol (no inter-op cache reuse; one invoke "
    "overhead per op)"
)


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


def random_inputs(details: list[dict[str, Any]], seed: int) -> list[np.ndarray]:
    """Seeded random arrays matching the interpreter's input shapes and dtypes."""
    rng = np.random.default_rng(seed)
    arrays = []
    for detail in details:
        shape, dtype = tuple(detail["shape"]), np.dtype(detail["dtype"])
        if dtype.kind == "f":
            arrays.append(rng.random(shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.integers(0, 2, shape).astype(bool))
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            low, high = max(int(info.min), -128), min(int(info.max), 127)
            arrays.append(rng.integers(low, high + 1, shape).astype(dtype))
        else:
            raise ValueError(f"Unsupported input dtype {dtype} for input {detail['name']!r}")
    return arrays


def make_infer(interpreter: Any, inputs: list[np.ndarray]) -> Any:
    """One inference as seed 001 times it: from setting the input to reading the output."""
    in_idx = [d["index"] for d in interpreter.get_input_details()]
    out_idx = [d["index"] for d in interpreter.get_output_details()]

    def infer() -> None:
        for index, array in zip(in_idx, inputs, strict=True):
            interpreter.set_tensor(index, array)
        interpreter.invoke()
        for index in out_idx:
            interpreter.get_tensor(index)

    return infer


def _has_data(model: Any, tensor: Any) -> bool:
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0


def single_op_model(
    model: Any, index: int, computed_at_load: Mapping[int, np.ndarray] | None = None
) -> tuple[bytes, list[int]]:
    """Carve operator ``index`` of subgraph 0 into a model of its own.

    Args:
        model: the whole model (flatbuffer object API).
        index: the operator's position in subgraph 0.
        computed_at_load: values of tensors that operators of constants only
            produce (a float16 model's dequantized weights), by tensor index:
            they become constants of the carved model, as the whole model's
            runtime treats them (XNNPACK packs them as weights).

    Returns:
        The single-op flatbuffer and, in input order, the original tensor
        indices its run-time inputs come from.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    computed_at_load = computed_at_load or {}
    graph = model.subgraphs[0]
    op = copy.copy(graph.operators[index])
    used = list(dict.fromkeys(t for t in [*op.inputs, *op.outputs, *(op.intermediates or [])]))
    used = [t for t in used if t >= 0]
    remap = {t: k for k, t in enumerate(used)}
    buffers, tensors, sources = [schema.BufferT()], [], []
    for t in used:
        tensor = copy.copy(graph.tensors[t])
        if _has_data(model, tensor):  # a constant (weights): keep its buffer
            buffers.append(model.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
        elif t in computed_at_load and t in op.inputs:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(computed_at_load[t].tobytes(), dtype=np.uint8)
            buffers.append(buffer)
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
            if t in op.inputs and not tensor.isVariable:
                sources.append(t)
        tensors.append(tensor)
    code = model.operatorCodes[op.opcodeIndex]
    op.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
    op.outputs = [remap[t] for t in op.outputs]
    op.intermediates = [remap[t] for t in op.intermediates] if op.intermediates else None
    op.opcodeIndex = 0
    sub = schema.SubGraphT()
    sub.tensors, sub.operators, sub.name = tensors, [op], b"single_op"
    sub.inputs, sub.outputs = [remap[t] for t in sources], list(op.outputs)
    carved = schema.ModelT()
    carved.version, carved.operatorCodes, carved.subgraphs = model.version, [code], [sub]
    carved.buffers, carved.description = buffers, b"single operator"
    return bytes(flatbuffer_utils.convert_object_to_bytearray(carved)), sources


def _reference_values(model_path: str, inputs: list[np.ndarray]) -> Any:
    """Run the whole model once without delegates, keeping every intermediate tensor."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    ref = Interpreter(
        model_path=model_path,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    ref.allocate_tensors()
    make_infer(ref, inputs)()
    return ref


def op_breakdown(
    model_path: str, threads: int, config: ProtocolConfig, inputs: list[np.ndarray]
) -> tuple[dict[str, Any] | None, str | None]:
    """Time every operator of subgraph 0 alone; group the means by operator type."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(model_path)
    if len(model.subgraphs) != 1:
        return None, f"not measured: the model has {len(model.subgraphs)} subgraphs (control flow)"
    ref = _reference_values(model_path, inputs)
    operators = model.subgraphs[0].operators
    # Share the time cap between operators so the breakdown stays bounded.
    per_op = config.replace(max_seconds=max(0.5, config.max_seconds / len(operators)))
    ops = []
    computed_at_load: dict[int, np.ndarray] = {}
    for index, op in enumerate(operators):
        code = model.operatorCodes[op.opcodeIndex]
        kind = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
        kind = kind or (code.customCode or b"CUSTOM").decode("ascii", "replace")
        content, sources = single_op_model(model, index, computed_at_load)
        if not sources:
            # Only constants in (a float16 model's DEQUANTIZE of its weights): LiteRT
            # computes it once when the interpreter is prepared and XNNPACK packs it
            # into its consumer's weights, so no inference runs it (alone, with no
            # input, XNNPACK refuses to set it up). Its consumers are carved with its
            # values as constants.
            computed_at_load.update({t: ref.get_tensor(t) for t in op.outputs})
            ops.append(
                {"index": index, "type": kind, "mean_ms": 0.0, "stable": True, "at_load": True}
            )
            continue
        interp = Interpreter(model_content=content, num_threads=threads)
        interp.allocate_tensors()
        feed = [ref.get_tensor(t) for t in sources]
        lat = run_protocol(make_infer(interp, feed), per_op)["latency"]
        ops.append(
            {"index": index, "type": kind, "mean_ms": lat["mean_ms"], "stable": lat["stable"]}
        )
    total = sum(o["mean_ms"] for o in ops)
    by_type: dict[str, dict[str, Any]] = {}
    for o in ops:
        entry = by_type.setdefault(o["type"], {"ms": 0.0, "count": 0})
        entry["ms"] += o["mean_ms"]
        entry["count"] += 1
    for entry in by_type.values():
        entry["share"] = entry["ms"] / total if total > 0 else None
    return {"method": OP_METHOD, "sum_ms": total, "by_type": by_type, "ops": ops}, None


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
    inputs = random_inputs(interpreter.get_input_details(), int(args.get("seed", 0)))
    run = _timed_runs(make_infer(interpreter, inputs), config, args.get("rapl_root", DEFAULT_ROOT))
    peak = _maxrss_bytes()  # before the breakdown, whose extra interpreters are not the run's
    breakdown, breakdown_reason = None, "not requested"
    if args.get("op_breakdown", True):
        try:
            breakdown, breakdown_reason = op_breakdown(args["model_path"], threads, config, inputs)
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
