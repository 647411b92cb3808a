"""The kernel-level latency predictor, leave-one-architecture-out, on this host.

Builds real networks untrained (latency does not depend on the weights' values):
keras.applications MobileNetV2, ResNet50 and EfficientNetB0 at small inputs,
and the zoo's mobilenet, vgg and resnet at a few widths; compresses each with
techniques that work today (Q-dyn, Q-f16, Q-int8, W1c, C3, Cl; no fine-tuning,
which changes weights, not timing); exports the .tflite; measures it with the
local driver's child process (whole-model latency and the per-operator
breakdown, one thread: in-graph from LiteRT's profiler, or single-op where
that cannot run; the report counts which). Then, holding out one
architecture at a time, trains the kernel predictor on the others and
predicts the held-out models' whole latency.
Prints the share within +-10% and the median absolute error beside the
always-the-median baseline, for every model and for those of at least 0.3 ms,
and beside the ceiling: how often a second measurement of the same model
(latency only, in a new child) lies within +-10% of the first.

Measurements are cached in var/bench-kernel/timings.json (keyed by model and
plan; an entry measured with another protocol, or by another breakdown method
than the driver's current one, is measured again), so a rerun only measures
what is new.
``--small`` keeps four models and three plans (a proof that it runs; its
figures are preliminary).

    .venv/bin/python benchmarks/kernel_predictor.py [--small] [--out var/bench-kernel]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (name, architecture family, zoo builder name, options, input side)
MODELS = [
    ("MobileNetV2-32", "MobileNetV2", "MobileNetV2", {}, 32),
    ("MobileNetV2-48", "MobileNetV2", "MobileNetV2", {}, 48),
    ("ResNet50-32", "ResNet50", "ResNet50", {}, 32),
    ("EfficientNetB0-32", "EfficientNetB0", "EfficientNetB0", {}, 32),
    ("EfficientNetB0-48", "EfficientNetB0", "EfficientNetB0", {}, 48),
    ("mobilenet-a0.5", "zoo-mobilenet", "mobilenet", {"alpha": 0.5}, 32),
    ("mobilenet-a1.0", "zoo-mobilenet", "mobilenet", {"alpha": 1.0}, 32),
    ("mobilenet-a1.5", "zoo-mobilenet", "mobilenet", {"alpha": 1.5}, 32),
    ("vgg-w0.5", "zoo-vgg", "vgg", {"width": 0.5}, 32),
    ("vgg-w1.0", "zoo-vgg", "vgg", {"width": 1.0}, 32),
    ("resnet-w1", "zoo-resnet", "resnet", {"width": 1.0}, 32),
    ("resnet-w2", "zoo-resnet", "resnet", {"width": 2.0}, 32),
    ("resnet-w1-48", "zoo-resnet", "resnet", {"width": 1.0}, 48),
]
PLANS = ["baseline", "Q-dyn", "Q-f16", "Q-int8", "W1c", "C3", "Cl"]
SMALL_MODELS = ["mobilenet-a0.5", "mobilenet-a1.0", "vgg-w0.5", "resnet-w1"]
SMALL_PLANS = ["baseline", "Q-int8", "Q-dyn"]
# At least 200 runs (and as many profiled ones): on this 2-core VM a 10-run window
# of a 0.4 ms model moved by 40 % from one run of the child to the next.
PROTOCOL = {
    "warmup_runs": 20,
    "min_runs": 200,
    "max_runs": 5000,
    "max_seconds": 3.0,
    "idle_seconds": 0.0,
}
MIN_LATENCY_MS = 0.3  # the floor: models of at least 0.3 ms


def export(name: str, arch: str, options: dict, side: int, plan: str, out: Path) -> Path:
    """Build, compress and export one model; the .tflite path (kept between runs)."""
    path = out / "models" / f"{name}--{plan}.tflite"
    if path.exists():
        return path
    from compression.data.digits import load_digits
    from compression.pipeline import export_plan
    from compression.plan import Plan, apply_plan
    from compression.training import FineTune
    from compression.zoo import build

    dataset = load_digits(resize_to=side)
    model = build(arch, dataset.input_shape, dataset.num_classes, **options)
    parsed = Plan.parse(plan)
    compressed = apply_plan(model, parsed, dataset, FineTune(epochs=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(export_plan(compressed, parsed, dataset))
    return path


def _child(path: Path, breakdown: bool) -> dict:
    args = {"model_path": str(path), "num_threads": 1, "protocol": PROTOCOL}
    args["op_breakdown"] = breakdown
    command = [sys.executable, "-m", "device_runner.drivers.child", json.dumps(args)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=1800, check=False)
    document = json.loads(proc.stdout or b"{}")
    if "error" in document or (breakdown and not document.get("op_breakdown")):
        reason = document.get("error") or document.get("op_breakdown_reason")
        raise RuntimeError(f"measuring {path.name} failed: {reason}")
    return document


def measure(path: Path) -> dict:
    """The local driver's child on one .tflite, twice: with the breakdown, then latency alone.

    The second latency says how repeatable the measurement is here: no
    predictor can be closer to a measurement than a remeasurement is.
    """
    first = _child(path, breakdown=True)
    again = _child(path, breakdown=False)
    return {
        "latency_ms": first["latency"]["mean_ms"],
        "op_breakdown": first["op_breakdown"],
        "repeat_latency_ms": again["latency"]["mean_ms"],
        "protocol": PROTOCOL,
    }


def collect(models: list, plans: list[str], out: Path) -> tuple[list, Counter]:
    """ModelTiming for every (model, plan), measured once and cached; breakdown methods used."""
    from compression.selection.kernel_predictor import ModelTiming
    from compression.selection.kernels import kernels_of, timings_from_breakdown
    from device_runner.drivers.in_graph import METHOD as current

    cache_path = out / "timings.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    timings, methods = [], Counter()
    for name, family, arch, options, side in models:
        for plan in plans:
            key = f"{name}--{plan}"
            try:
                path = export(name, arch, options, side, plan, out)
                if _stale(cache.get(key), current, PROTOCOL):
                    started = time.monotonic()
                    cache[key] = measure(path)
                    cache_path.write_text(json.dumps(cache))
                    took = time.monotonic() - started
                    print(f"{key}: {cache[key]['latency_ms']:.3f} ms ({took:.0f} s)", flush=True)
            except Exception as error:  # one failing plan must not sink the benchmark
                print(f"{key}: skipped, {type(error).__name__}: {error}", flush=True)
                continue
            kernels = kernels_of(path)
            ms = timings_from_breakdown(cache[key]["op_breakdown"], kernels)
            latency = cache[key]["latency_ms"]
            timings.append(ModelTiming(key, family, tuple(kernels), tuple(ms), latency))
            methods[cache[key]["op_breakdown"]["method"]] += 1
    return timings, methods


def _stale(entry: dict | None, current: str, protocol: dict) -> bool:
    """Not measured, measured with another protocol, or before the current method existed."""
    if entry is None or entry.get("protocol") != protocol:
        return True
    breakdown = entry["op_breakdown"]
    return breakdown["method"] != current and "in_graph_reason" not in breakdown


def repeatability(out: Path, floor: float = MIN_LATENCY_MS) -> dict:
    """How often the second latency of a model lies within +-10% of its first (>= floor)."""
    import numpy as np

    cache = json.loads((out / "timings.json").read_text())
    pairs = [
        (entry["latency_ms"], entry["repeat_latency_ms"])
        for entry in cache.values()
        if entry.get("repeat_latency_ms") and entry["latency_ms"] >= floor
    ]
    if not pairs:
        return {"n": 0}
    first, again = np.array(pairs).T
    error = np.abs(again - first) / first
    return {
        "n": len(pairs),
        "within 10%": float(np.mean(error <= 0.1)),
        "median %": float(np.median(error) * 100),
    }


def report(timings: list) -> list[dict]:
    """Held-out figures per regressor kind, for all models and for those >= 0.3 ms."""
    import numpy as np

    from compression.selection.kernel_predictor import leave_one_architecture_out

    rows = []
    for kind in ("power+forest", "forest", "power"):
        held = leave_one_architecture_out(timings, kind)
        for label, floor in (("all", 0.0), (f">= {MIN_LATENCY_MS} ms", MIN_LATENCY_MS)):
            kept = [r for r in held.rows if r["measured_ms"] >= floor]
            if not kept:
                continue
            measured = np.array([r["measured_ms"] for r in kept])
            ape = np.abs(np.array([r["predicted_ms"] for r in kept]) - measured) / measured
            base = np.abs(np.array([r["median_ms"] for r in kept]) - measured) / measured
            rows.append(
                {
                    "regressor": kind,
                    "models": label,
                    "n": len(kept),
                    "within 10%": float(np.mean(ape <= 0.1)),
                    "median APE %": float(np.median(ape) * 100),
                    "median baseline within 10%": float(np.mean(base <= 0.1)),
                    "median baseline APE %": float(np.median(base) * 100),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="Four models, three plans.")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-kernel")
    parser.add_argument("--rows", action="store_true", help="Also print every held-out model.")
    args = parser.parse_args(argv)
    models = [m for m in MODELS if not args.small or m[0] in SMALL_MODELS]
    plans = SMALL_PLANS if args.small else PLANS
    timings, methods = collect(models, plans, args.out)
    import pandas as pd

    print("breakdown methods:", ", ".join(f"{n} x {m}" for m, n in methods.items()))
    rows = report(timings)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    again = repeatability(args.out)
    print(
        f"remeasured latency (the ceiling), models >= {MIN_LATENCY_MS} ms: n={again['n']}, "
        f"within 10%: {again.get('within 10%', float('nan')):.3g}, "
        f"median difference: {again.get('median %', float('nan')):.3g} %"
    )
    if args.rows:
        from compression.selection.kernel_predictor import leave_one_architecture_out

        held = leave_one_architecture_out(timings)
        print(pd.DataFrame(held.rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
