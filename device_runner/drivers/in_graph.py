"""The in-graph breakdown: each operator's time inside whole runs, from LiteRT's profiler.

Timing an operator carved out alone misses inter-op cache reuse: for the
kernel benchmark's models of at least 0.3 ms, the sum of such times was
within +-10% of the whole model's latency for 45% of them; the in-graph
profiler's sum, against the same process's latency with the profiler off,
for 81% (``benchmarks/litert_op_profile.py``). The profiler costs about
0.13 ms per run outside the operators' events, so the whole model's latency
is timed separately, with it off; it also adds to each event a little, which
shows on models of many sub-10-microsecond operators (a 0.35 ms MobileNetV2
at 32x32: its operators summed to 109-126 % of its latency).
"""

from __future__ import annotations

import time
from typing import Any

from device_runner.drivers.litert_c import CompiledModel
from device_runner.drivers.op_events import per_operator_ms
from measurements.protocol import ProtocolConfig

METHOD = "measured in-graph: LiteRT CompiledModel profiler, each operator inside whole runs"
MAX_PROFILED_RUNS = 100  # the events' whole microseconds average out well before this


def operator_types(model_path: str) -> list[str]:
    """Builtin names of subgraph 0's operators (custom ones by their code), in order.

    Raises:
        ValueError: the model has more than one subgraph (control flow).
    """
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(model_path)
    if len(model.subgraphs) != 1:
        raise ValueError(
            f"A breakdown needs one subgraph. Received: subgraphs={len(model.subgraphs)}"
        )
    names = []
    for op in model.subgraphs[0].operators:
        name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
        code = model.operatorCodes[op.opcodeIndex]
        names.append(name or (code.customCode or b"CUSTOM").decode("ascii", "replace"))
    return names


def in_graph_times(
    model_path: str, threads: int, config: ProtocolConfig, seed: int
) -> tuple[list[dict[str, Any]], int]:
    """Profile whole runs and charge each profiler event to its operator.

    Args:
        model_path: the ``.tflite``.
        threads: XNNPACK threads.
        config: the protocol: its warm-up, its minimum runs and its time cap.
        seed: for the random inputs.

    Returns:
        One entry per operator (``index``, ``type``, ``mean_ms``, and
        ``no_event`` when the runtime fused or elided it), and the number of
        profiled runs averaged.

    Raises:
        LiteRtError: LiteRT's C library is missing or refused the model.
        ValueError: several subgraphs, or events that cannot be aligned.
    """
    types = operator_types(model_path)
    with CompiledModel(model_path, threads, profile=True) as compiled:
        compiled.fill_inputs(seed)
        for _ in range(config.warmup_runs + 1):
            compiled.run()
        runs, started = [], time.perf_counter()
        # Never past MAX_PROFILED_RUNS, whatever the protocol's minimum: every run's
        # events stay in memory (a minimum of a million runs held 6 GB after 15 min).
        wanted = min(config.max_runs, MAX_PROFILED_RUNS)
        least = min(config.min_runs, wanted)
        while len(runs) < least or (
            len(runs) < wanted and time.perf_counter() - started < config.max_seconds
        ):
            runs.append(compiled.profiled_run())
    ms, without_event = per_operator_ms(runs, types)
    ops = []
    for index, (kind, mean_ms) in enumerate(zip(types, ms, strict=True)):
        entry: dict[str, Any] = {"index": index, "type": kind, "mean_ms": mean_ms}
        if index in without_event:
            entry["no_event"] = True
        ops.append(entry)
    return ops, len(runs)
