"""The local driver's per-operator breakdown: in-graph when it can, single-op when not."""

from __future__ import annotations

from typing import Any

import numpy as np

from device_runner.drivers import in_graph, single_op
from device_runner.drivers.litert_c import LiteRtError
from measurements.protocol import ProtocolConfig


def summarise(method: str, scope: str, ops: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The stored breakdown: per-operator times, their sum, and totals per type.

    ``scope`` says what the times include: "in-graph" (each operator inside
    whole runs) or "single-op" (each operator alone), so a predictor
    trained on them does not mix the two.
    """
    total = sum(o["mean_ms"] for o in ops)
    by_type: dict[str, dict[str, Any]] = {}
    for o in ops:
        entry = by_type.setdefault(o["type"], {"ms": 0.0, "count": 0})
        entry["ms"] += o["mean_ms"]
        entry["count"] += 1
    for entry in by_type.values():
        entry["share"] = entry["ms"] / total if total > 0 else None
    breakdown = {"method": method, "scope": scope, "sum_ms": total, "by_type": by_type}
    return {**breakdown, "ops": ops, **extra}


def op_breakdown(
    model_path: str, threads: int, config: ProtocolConfig, inputs: list[np.ndarray], seed: int
) -> dict[str, Any]:
    """Per-operator times of the model, by the best method this host can run.

    The in-graph profiler comes first; when LiteRT's C library or the
    alignment of its events fails, each operator is timed alone instead, and
    ``in_graph_reason`` in the breakdown says why.

    Raises:
        ValueError: neither method can break this model down (several subgraphs).
    """
    try:
        ops, runs = in_graph.in_graph_times(model_path, threads, config, seed)
        return summarise(in_graph.METHOD, "in-graph", ops, profiled_runs=runs)
    except (LiteRtError, ValueError) as exc:
        reason = f"in-graph profiler not usable: {type(exc).__name__}: {exc}"
    ops = single_op.single_op_times(model_path, threads, config, inputs)
    return summarise(single_op.METHOD, "single-op", ops, in_graph_reason=reason)
