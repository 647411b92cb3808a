"""Sweep: every registered technique alone, and seed 004 table 4's pairs, on the digits baselines.

Trains LeNet and AlexNet-13 on the bundled digits, compresses each with the
baseline plan and every registered technique at its defaults (and, for
AlexNet, the 24 conv2 x fc1,fc2 pairs of seed 004 table 4), and prints one row
per artifact: structure (parameters, Sp, MACs), file and gzip size, accuracy of
the ``.tflite`` on the test split, and the time the compression took. A plan
that fails prints its error in its row; the sweep goes on.

    python benchmarks/sweep.py --arch lenet --epochs 20 --out sweep.csv
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

# Run as a script from anywhere: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compression.baseline import train_baseline  # noqa: E402
from compression.data import Dataset, load_digits  # noqa: E402
from compression.evaluation import evaluate_keras  # noqa: E402
from compression.pipeline import compress  # noqa: E402
from compression.plan import Plan, PlanStep  # noqa: E402
from compression.techniques import all_techniques  # noqa: E402
from compression.training import FineTune  # noqa: E402

# Seed 004 table 4: one conv technique on conv2 with one dense-layer technique on fc1, fc2
# (L3 replaces the whole dense head, so it names no layers); conv step first.
TABLE4_CONV = ("W1c", "C1", "C2", "C3", "L1", "L2")
TABLE4_FC = ("W1f@fc1,fc2", "W2@fc1,fc2", "W3@fc1,fc2", "L3")
# Architectures with the conv2, fc1 and fc2 layers table 4 names, in AdaDeep's sense.
TABLE4_ARCHITECTURES = ("alexnet",)
BYTES_PER_KIB = 1024
ERROR_WIDTH = 110


def table4_pairs() -> list[str]:
    """The 24 table-4 combinations as plan texts, conv step first."""
    return [f"{conv}@conv2 + {fc}" for fc in TABLE4_FC for conv in TABLE4_CONV]


def sweep_plans(arch: str) -> list[str]:
    """Baseline, every registered technique alone at its defaults, and table 4 where it fits."""
    singles = [Plan((PlanStep(cls.code),)).canonical() for cls in all_techniques()]
    pairs = table4_pairs() if arch in TABLE4_ARCHITECTURES else []
    return [Plan.baseline().canonical(), *singles, *pairs]


def measure(
    arch: str, model: Any, text: str, data: Dataset, work: Path, budget: FineTune
) -> dict[str, Any]:
    """Compress ``model`` with one plan and summarise the artifact as a table row.

    A failure becomes a row whose ``error`` column holds the exception.
    """
    started = time.perf_counter()
    try:
        output = compress(model, text, data, work, fine_tune=budget)
    except Exception as error:  # a benchmark reports every failure and goes on
        message = f"{type(error).__name__}: {error}".replace("\n", " ")
        seconds = time.perf_counter() - started
        return {"arch": arch, "plan": text, "seconds": seconds, "error": message[:ERROR_WIDTH]}
    metrics = output.static_metrics
    return {
        "arch": arch,
        "plan": output.plan,
        "params": metrics["params"],
        "nonzero": metrics["nonzero_params"],
        # Sp is in bits (seed 004 eq. 3); shown in KiB.
        "Sp KiB": metrics["sp_bits"] / 8 / BYTES_PER_KIB,
        "MACs": metrics["macs"],
        "file KiB": metrics["file_size_bytes"] / BYTES_PER_KIB,
        "gzip KiB": metrics["gzip_size_bytes"] / BYTES_PER_KIB,
        "accuracy": output.accuracy_metrics["accuracy"],
        "seconds": output.seconds,
        "error": "",
    }


def sweep_architecture(
    arch: str, data: Dataset, epochs: int, budget: FineTune, work: Path
) -> list[dict[str, Any]]:
    """Train one baseline and measure every plan of its sweep, reporting progress."""
    started = time.perf_counter()
    model = train_baseline(arch, data, epochs=epochs, seed=0)
    accuracy = evaluate_keras(model, data.x_test, data.y_test)["accuracy"]
    print(
        f"# {arch}: trained {epochs} epochs in {time.perf_counter() - started:.1f} s, "
        f"Keras test accuracy {accuracy:.3f}",
        file=sys.stderr,
        flush=True,
    )
    rows = []
    for text in sweep_plans(arch):
        rows.append(measure(arch, model, text, data, work, budget))
        status = rows[-1]["error"] or f"accuracy {rows[-1]['accuracy']:.3f}"
        print(f"#   {text}: {status}", file=sys.stderr, flush=True)
    return rows


def table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a DataFrame with rounded figures, errors last."""
    frame = pd.DataFrame(rows)
    for column in ("params", "nonzero", "MACs"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame.round({"Sp KiB": 1, "file KiB": 1, "gzip KiB": 1, "accuracy": 3, "seconds": 1})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep and print its table; optionally write it as CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["lenet", "alexnet"])
    parser.add_argument("--epochs", type=int, default=20, help="baseline training epochs")
    parser.add_argument("--fine-tune-epochs", type=int, default=1, help="per technique")
    parser.add_argument("--resize", type=int, default=None, help="digits side length (8)")
    parser.add_argument("--out", type=Path, default=None, help="CSV file for the table")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the artifacts here")
    args = parser.parse_args(argv)
    data = load_digits(seed=0, resize_to=args.resize)
    budget = FineTune(epochs=args.fine_tune_epochs, batch_size=64, seed=0)
    with tempfile.TemporaryDirectory(prefix="compresso-sweep-") as scratch:
        work = args.work_dir or Path(scratch)
        rows = [
            row
            for arch in args.arch
            for row in sweep_architecture(arch, data, args.epochs, budget, work)
        ]
    frame = table(rows)
    with pd.option_context("display.width", 250, "display.max_colwidth", ERROR_WIDTH):
        print(frame.to_string(index=False))
    if args.out:
        frame.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
