"""Per-operator times inside whole LiteRT runs, beside the whole run's latency, for one model.

A check of the local driver's in-graph breakdown (``device_runner/drivers/
in_graph.py``): it profiles ``--runs`` runs with LiteRT's CompiledModel
profiler, charges each event to its .tflite operator, and times as many runs
of the same CompiledModel compiled without profiling (the profiler costs
about 0.13 ms per run outside the operators' events). The sum of the
operators' means over that latency says how much of a run the breakdown
accounts for.

    .venv/bin/python benchmarks/litert_op_profile.py MODEL.tflite [threads] [-n 50] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device_runner.drivers.in_graph import in_graph_times  # noqa: E402
from device_runner.drivers.litert_c import CompiledModel  # noqa: E402
from measurements.protocol import ProtocolConfig  # noqa: E402


def unprofiled_latency(model: str, threads: int, runs: int, warmup: int) -> dict[str, float]:
    """Mean, median and minimum ms of runs of the model compiled without the profiler."""
    times = []
    with CompiledModel(model, threads, profile=False) as compiled:
        compiled.fill_inputs(seed=0)
        for _ in range(warmup + 1):
            compiled.run()
        for _ in range(runs):
            started = time.perf_counter()
            compiled.run()
            times.append((time.perf_counter() - started) * 1000.0)
    return {
        "mean_ms": statistics.fmean(times),
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "n": len(times),
    }


def profile(model: str, threads: int, runs: int, warmup: int) -> dict[str, Any]:
    """The breakdown, its sum and the unprofiled latency, as one document."""
    config = ProtocolConfig(
        warmup_runs=warmup, min_runs=runs, max_runs=runs, max_seconds=3600.0, idle_seconds=0.0
    )
    ops, profiled = in_graph_times(model, threads, config, seed=0)
    return {
        "model": model,
        "num_threads": threads,
        "profiled_runs": profiled,
        "ops": ops,
        "op_sum_ms": sum(o["mean_ms"] for o in ops),
        "latency": unprofiled_latency(model, threads, runs, warmup),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("num_threads", nargs="?", type=int, default=1)
    parser.add_argument("-n", "--runs", type=int, default=50, help="profiled and timed runs")
    parser.add_argument("-w", "--warmup", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the document here")
    args = parser.parse_args(argv)
    document = profile(args.model, args.num_threads, args.runs, args.warmup)
    total = document["op_sum_ms"]
    print(f"{'#':>4} {'operator':24} {'mean ms':>9} {'share':>6}")
    for op in document["ops"]:
        note = "  (no event: fused or elided)" if op.get("no_event") else ""
        share = op["mean_ms"] / total if total else 0.0
        print(f"{op['index']:>4} {op['type'][:24]:24} {op['mean_ms']:9.4f} {share:6.1%}{note}")
    latency = document["latency"]
    print(f"sum of operators (measured in-graph, {document['profiled_runs']} runs): {total:.4f} ms")
    print(f"latency without the profiler (measured, {latency['n']} runs): ", end="")
    print(f"mean {latency['mean_ms']:.4f} / median {latency['median_ms']:.4f} ms")
    print(f"sum / median latency: {total / latency['median_ms']:.1%}")
    if args.json:
        args.json.write_text(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
