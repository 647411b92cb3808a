"""Every technique on the networks people ship: keras.applications at 32x32x3.

For each network (MobileNetV2 at alpha 0.35 and 1.0, MobileNetV3Small, ResNet50,
EfficientNetB0, DenseNet121; untrained builders, no weights downloaded), trains a
baseline on the bundled digits upscaled to 32x32 and repeated to three channels,
then applies every registered technique alone at its defaults and prints one row
each: applied or refused (with the technique's reason), parameters, MACs,
``.tflite`` size, local latency (mean and 95% CI half-width, seed 001's stop
rule, in this process on the CPU) and the ``.tflite``'s test accuracy after
fine-tuning. A row whose error is not a refusal is a crash: the bug to fix.

``--speedup`` measures instead what structured pruning buys at a realistic input
size: the baseline and ``Ps(fraction=0.5)`` of ResNet50 and MobileNetV2 at 96x96,
untrained (latency does not depend on the weights), each with its interval, and
the speedup with a conservative interval (ratio of the CI bounds).

    python benchmarks/realnets.py --nets MobileNetV2:0.35 ResNet50 --epochs 3
    python benchmarks/realnets.py --speedup --side 96
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# TensorFlow's converter warnings would drown the table; errors still print.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Run as a script from anywhere: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compression.baseline import train_baseline  # noqa: E402
from compression.data import Dataset, load_digits  # noqa: E402
from compression.errors import NotApplicableError  # noqa: E402
from compression.export import to_tflite  # noqa: E402
from compression.pipeline import RECOVERY_POINTS, compress  # noqa: E402
from compression.plan import Plan, PlanStep  # noqa: E402
from compression.techniques import all_techniques, get_technique  # noqa: E402
from compression.training import FineTune  # noqa: E402
from compression.zoo import build  # noqa: E402
from measurements.protocol import ProtocolConfig, run_protocol  # noqa: E402

NETWORKS = (
    "MobileNetV2:0.35",
    "MobileNetV2:1.0",
    "MobileNetV3Small",
    "ResNet50",
    "EfficientNetB0",
    "DenseNet121",
)
SPEEDUP_NETWORKS = ("ResNet50", "MobileNetV2:1.0")
KIB = 1024
ERROR_WIDTH = 120
COLUMNS = (
    "net", "plan", "outcome", "params", "MACs", "tflite KiB", "ms", "±ms", "accuracy",
    "seconds", "why",
)  # fmt: skip
PROTOCOL = ProtocolConfig(warmup_runs=5, min_runs=20, max_runs=5000, max_seconds=5.0)


def parse_network(spec: str) -> tuple[str, dict[str, Any]]:
    """``"MobileNetV2:0.35"`` -> ("MobileNetV2", {"alpha": 0.35})."""
    name, _, alpha = spec.partition(":")
    return name, ({"alpha": float(alpha)} if alpha else {})


def rgb_digits(side: int, max_train: int | None) -> Dataset:
    """The bundled digits at ``side`` x ``side``, repeated to three channels."""
    data = load_digits(seed=0, resize_to=side)
    rgb = {f: np.repeat(getattr(data, f), 3, axis=-1) for f in ("x_train", "x_val", "x_test")}
    data = dataclasses.replace(data, **rgb, name=f"digits{side}rgb")
    if max_train:
        data = dataclasses.replace(
            data, x_train=data.x_train[:max_train], y_train=data.y_train[:max_train]
        )
    return data


def latency(tflite: bytes, threads: int) -> dict[str, float]:
    """Mean latency and its 95% CI half-width in ms, seed 001's stop rule, in this process."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite, num_threads=threads)
    interpreter.allocate_tensors()
    inputs = interpreter.get_input_details()
    rng = np.random.default_rng(0)
    arrays = [rng.random(tuple(d["shape"])).astype(d["dtype"]) for d in inputs]

    def infer() -> None:
        for detail, array in zip(inputs, arrays, strict=True):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()

    stats = run_protocol(infer, PROTOCOL)["latency"]
    return {"ms": stats["mean_ms"], "ci": stats["ci_half_width_ms"], "runs": stats["runs"]}


def technique_row(
    net: str, model: Any, code: str, data: Dataset, work: Path, budget: FineTune, threads: int
) -> dict[str, Any]:
    """Compress ``model`` with one technique at its defaults and summarise it."""
    row: dict[str, Any] = {"net": net, "plan": _plan_text(code)}
    started = time.perf_counter()
    try:
        output = compress(model, row["plan"], data, work, fine_tune=budget)
    except NotApplicableError as refusal:
        return {**row, "outcome": "refused", "why": _one_line(refusal)}
    except Exception as error:  # a benchmark reports every failure and goes on
        return {**row, "outcome": "CRASH", "why": f"{type(error).__name__}: {_one_line(error)}"}
    metrics = output.static_metrics
    timing = latency(output.tflite_path.read_bytes(), threads)
    return {
        **row,
        "outcome": "applied",
        "params": metrics["params"],
        "MACs": metrics["macs"],
        "tflite KiB": metrics["file_size_bytes"] / KIB,
        "ms": timing["ms"],
        "±ms": timing["ci"],
        "accuracy": output.accuracy_metrics["accuracy"],
        "seconds": time.perf_counter() - started,
        "why": "",
    }


def with_recovery(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with each applied row's accuracy gap to its network's baseline.

    ``gap pts`` is percentage points below the baseline's ``.tflite`` accuracy
    (negative: above it); ``recovered`` says "no" past the pipeline's threshold
    (``RECOVERY_POINTS``), the same rule a stored result states beside its figure.
    """
    baselines = frame[frame["plan"] == "baseline"].set_index("net")["accuracy"]
    gap = (frame["net"].map(baselines) - frame["accuracy"]) * 100.0
    applied = (frame["outcome"] == "applied") & (frame["plan"] != "baseline") & gap.notna()
    out = frame.copy()
    out.insert(out.columns.get_loc("accuracy") + 1, "gap pts", gap.where(applied))
    recovered = np.where(gap <= RECOVERY_POINTS, "yes", "no")
    out.insert(out.columns.get_loc("gap pts") + 1, "recovered", np.where(applied, recovered, ""))
    return out


def _one_line(error: Exception) -> str:
    return str(error).replace("\n", " ")[:ERROR_WIDTH]


def sweep_network(
    spec: str, args: argparse.Namespace, data: Dataset, work: Path, done: set[tuple[str, str]]
) -> list[dict]:
    """Train (or reload) one baseline and measure every technique on it not yet ``done``.

    Each row is appended to ``args.out`` as soon as it is measured, so a sweep that
    is stopped keeps what it measured; ``--resume`` skips the rows already there and
    reloads the baseline saved beside the CSV, so every row compares to one model.
    """
    name, options = parse_network(spec)
    codes = ["baseline", *(args.techniques or [cls.code for cls in all_techniques()])]
    texts = {code: _plan_text(code) for code in codes}
    todo = [code for code in codes if (spec, texts[code]) not in done]
    if not todo:
        return []
    model = _baseline(spec, name, options, args, data)
    budget = FineTune(epochs=args.fine_tune_epochs, batch_size=32, seed=0)
    rows = []
    for code in todo:
        rows.append(technique_row(spec, model, code, data, work, budget, args.threads))
        row = rows[-1]
        status = row["why"] or f"accuracy {row['accuracy']:.3f}, {row['ms']:.3f} ms"
        print(f"#   {row['plan']}: {row['outcome']} {status}", file=sys.stderr, flush=True)
        if args.out:
            _append_row(args.out, row)
    return rows


def _plan_text(code: str) -> str:
    return Plan((PlanStep(code),)).canonical() if code != "baseline" else "baseline"


def _baseline(
    spec: str, name: str, options: dict[str, Any], args: argparse.Namespace, data: Dataset
) -> Any:
    """The trained baseline, saved beside ``--out`` so a resumed sweep reuses it."""
    import keras

    saved = (
        args.out.with_name(f"{args.out.stem}-{spec.replace(':', '_')}.keras") if args.out else None
    )
    if saved is not None and saved.exists():
        print(f"# {spec}: baseline reloaded from {saved}", file=sys.stderr)
        return keras.models.load_model(saved, compile=False)
    started = time.perf_counter()
    model = train_baseline(name, data, epochs=args.epochs, seed=0, **options)
    print(f"# {spec}: baseline trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if saved is not None:
        model.save(saved)
    return model


def _append_row(out: Path, row: dict[str, Any]) -> None:
    """One row onto the CSV, the header first when the file is new (columns fixed)."""
    frame = pd.DataFrame([row]).reindex(columns=COLUMNS)
    frame.to_csv(out, mode="a", header=not out.exists(), index=False)


def _done_rows(out: Path | None) -> tuple[set[tuple[str, str]], list[dict[str, Any]]]:
    if out is None or not out.exists():
        return set(), []
    rows = pd.read_csv(out).to_dict("records")
    return {(r["net"], r["plan"]) for r in rows}, rows


def speedup_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Baseline vs Ps(fraction=0.5) latency at ``args.side``, untrained, with intervals."""
    rows = []
    for spec in args.nets or SPEEDUP_NETWORKS:
        name, options = parse_network(spec)
        model = build(name, (args.side, args.side, 3), 10, **options)
        pruned = get_technique("Ps")(fraction=0.5).apply(model)
        base = latency(to_tflite(model, "float32"), args.threads)
        ps = latency(to_tflite(pruned, "float32"), args.threads)
        # Conservative interval for base/ps: the ratio of the opposite CI bounds.
        low = (base["ms"] - base["ci"]) / (ps["ms"] + ps["ci"])
        high = (base["ms"] + base["ci"]) / (ps["ms"] - ps["ci"])
        rows.append(
            {
                "net": spec,
                "side": args.side,
                "params": model.count_params(),
                "Ps params": pruned.count_params(),
                "baseline ms": base["ms"],
                "±": base["ci"],
                "Ps ms": ps["ms"],
                "± ": ps["ci"],
                "speedup": base["ms"] / ps["ms"],
                "CI low": low,
                "CI high": high,
            }
        )
        print(f"# {spec}: {rows[-1]['speedup']:.2f}x [{low:.2f}, {high:.2f}]", file=sys.stderr)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep (or the speedup check) and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=None, help="NAME or NAME:alpha")
    parser.add_argument("--techniques", nargs="+", default=None, help="codes (default: all)")
    parser.add_argument("--side", type=int, default=32, help="input side length")
    parser.add_argument("--epochs", type=int, default=3, help="baseline training epochs")
    parser.add_argument("--fine-tune-epochs", type=int, default=1, help="cap per technique")
    parser.add_argument("--max-train", type=int, default=None, help="train on the first N")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--speedup", action="store_true", help="Ps(0.5) vs baseline latency")
    parser.add_argument("--out", type=Path, default=None, help="CSV file, one row as each lands")
    parser.add_argument("--resume", action="store_true", help="skip the rows --out holds")
    args = parser.parse_args(argv)
    if args.speedup:
        frame = pd.DataFrame(speedup_rows(args))
    else:
        if args.out and args.out.exists() and not args.resume:
            parser.error(f"{args.out} exists: pass --resume to add to it, or remove it")
        done, rows = _done_rows(args.out)
        data = rgb_digits(args.side, args.max_train)
        with tempfile.TemporaryDirectory(prefix="compresso-realnets-") as scratch:
            for spec in args.nets or NETWORKS:
                rows += sweep_network(spec, args, data, Path(scratch), done)
        frame = with_recovery(pd.DataFrame(rows).reindex(columns=COLUMNS))
    with pd.option_context("display.width", 300, "display.max_colwidth", ERROR_WIDTH):
        print(frame.round(3).to_string(index=False))
    if args.out and args.speedup:
        frame.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
