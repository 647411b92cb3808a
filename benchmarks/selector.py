"""Seed 004 table 5 on this host: exhaustive, greedy and DQN over a measured table environment.

Builds the table environment (the baseline, every technique alone and every
pair across the conv / fc / whole-model slots, on LeNet and AlexNet-13 trained
on the bundled digits), compressed and measured on the local device through
the job queue, exactly as the dashboard's sweeps are. Then, for each model,
runs the three strategies with the weights of section 5.3.1 (mu1 = 0.6,
mu2 = 0.4, mu3 = mu4 = 0.5) and prints, as table 5 does, the chosen plan, its
accuracy loss and its reductions (x) of Sp, T and E against the plan W3, and
the candidate evaluations each strategy needed.

A keras.applications network (``--arch MobileNetV2:0.35``, "NAME:alpha" as in
realnets.py) is trained as a user would bring it: the digits upscaled to
``--side`` and repeated to three channels are written to an ``.npz`` under
DATASET_ROOT (var/datasets) and registered as an npz dataset; the baseline is
trained on it and registered as an uploaded ``.keras``. Plans the network
refuses (C2, L1, L2, L3 on MobileNetV2) are left out of its table.

The database defaults to var/bench-selector.sqlite3 (set DATABASE_URL to use
another); rows are kept, so a second run measures only what is new. The full
table is 172 plans per model; ``--codes`` restricts it to a subset, and
``--fine-tune-epochs`` caps each compression step's fine-tuning (the committed
LeNet and AlexNet-13 tables used 5, the keras.applications ones 1).

    .venv/bin/python benchmarks/selector.py [--arch lenet alexnet MobileNetV2:0.35] [--side 32]
        [--codes C2 L1 W2 W3 L3 Q-int8] [--fine-tune-epochs 5] [--save-tables var/tables]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# A quick protocol: the stop rule still applies, with a short time cap per plan.
PROTOCOL = {"warmup_runs": 3, "min_runs": 10, "max_runs": 5000, "max_seconds": 1.0}
WEIGHTS = {"mu1": 0.6, "mu2": 0.4, "mu3": 0.5, "mu4": 0.5}
REFERENCE = "W3"


def setup_django(fine_tune_epochs: int | None = None) -> None:
    """Django against the benchmark's own database, migrated.

    ``fine_tune_epochs`` caps the runner's fine-tuning the way ``make demo`` does,
    through COMPRESSION_FINE_TUNE_EPOCHS (the lab's default of 30 would take hours
    on a real network); None keeps the environment's setting.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-selector.sqlite3'}")
    if fine_tune_epochs is not None:
        os.environ["COMPRESSION_FINE_TUNE_EPOCHS"] = str(fine_tune_epochs)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("loadcatalogue", verbosity=0)


def restricted_space(codes: list[str] | None):  # noqa: ANN201 (a Space)
    """The registry's slots, keeping only ``codes`` when given."""
    from compression.selection.space import Slot, Space, registry_space

    space = registry_space()
    if not codes:
        return space
    slots = [Slot(s.name, tuple(o for o in s.options if o in codes)) for s in space.slots]
    return Space(tuple(s for s in slots if s.options))


def is_application(arch: str) -> bool:
    """Whether ``arch`` names a keras.applications network ("MobileNetV2:0.35")."""
    from benchmarks.realnets import parse_network
    from compression.zoo.applications import APPLICATIONS

    return parse_network(arch)[0] in APPLICATIONS


def slug(arch: str) -> str:
    """``arch`` fit for a model or file name: "MobileNetV2:0.35" -> "MobileNetV2-0.35"."""
    return arch.replace(":", "-")


def write_rgb_digits(path: Path, side: int) -> dict[str, Any]:
    """Write realnets.py's RGB digits to ``path`` as a user's ``.npz``; its loader options.

    The npz layout has no validation split, so train and validation go together
    into ``x_train`` and the loader holds the same share out again (60/20/20).
    """
    import numpy as np

    from benchmarks.realnets import rgb_digits

    data = rgb_digits(side, max_train=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        x_train=np.concatenate([data.x_train, data.x_val]),
        y_train=np.concatenate([data.y_train, data.y_val]),
        x_test=data.x_test,
        y_test=data.y_test,
    )
    held_out = len(data.x_val) / (len(data.x_train) + len(data.x_val))
    return {"path": path.name, "val_fraction": held_out}


def baseline(arch: str, epochs: int, side: int):  # noqa: ANN201 (a DNNModel)
    """The registered baseline for ``arch``, trained on first use.

    A zoo model trains on the bundled 8x8 digits; a keras.applications network on
    an ``.npz`` dataset of the digits at ``side`` x ``side`` x 3 (those networks
    need 32x32 at least and three channels).
    """
    from django.conf import settings

    from benchmarks.realnets import parse_network
    from measurements import actions

    if not is_application(arch):
        dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
        name = f"bench-{arch}-digits"
        return dataset.models.filter(name=name).first() or actions.train_and_register_baseline(
            arch, dataset, epochs=epochs, name=name
        )
    dataset_name = f"digits{side}rgb"
    # Written on every run (the same arrays): the registered row keeps only the path,
    # and every job reads the file again.
    options = write_rgb_digits(Path(settings.DATASET_ROOT) / f"{dataset_name}.npz", side)
    dataset = actions.register_dataset(dataset_name, "npz", options)
    name = f"bench-{slug(arch)}-{dataset_name}"
    existing = dataset.models.filter(name=name).first()
    if existing:
        return existing
    family, options = parse_network(arch)
    started = time.monotonic()
    model = actions.train_and_register_baseline(family, dataset, epochs, name=name, **options)
    print(f"{arch}: baseline trained in {time.monotonic() - started:.0f} s", flush=True)
    return model


def build_table(arch: str, space, epochs: int, side: int = 32) -> tuple:  # noqa: ANN001
    """Train (once) the baseline, queue every plan of the space, run the local runner."""
    from device_runner.runner import Runner
    from measurements import actions

    device, _ = actions.ensure_local_device()
    model = baseline(arch, epochs, side)
    texts = space.singles_and_pairs()
    jobs = actions.queue_jobs([model], texts, [device], [1], PROTOCOL)
    print(f"{arch}: {len(texts)} plans, {len(jobs)} newly queued", flush=True)
    started = time.monotonic()
    Runner(devices=[device]).run(once=True)
    print(f"{arch}: table built in {time.monotonic() - started:.0f} s", flush=True)
    return model, device


def measured_table(model, device) -> list:  # noqa: ANN001
    """The model's complete candidates measured on the device (the table environment)."""
    from measurements.recommend import build_candidates

    candidates, _ = build_candidates(model, device)
    return [c for c in candidates if c.measured and c.complete]


def table5_rows(model, device, space, seed: int, limits: dict) -> list[dict]:  # noqa: ANN001
    """The three strategies on the model's measured table, against the W3 plan."""
    from compression.selection import Budgets, run_strategy

    measured = measured_table(model, device)
    reference = next((c for c in measured if c.plan == REFERENCE), None)
    budgets = Budgets(**WEIGHTS, **limits)
    rows = []
    for strategy in ("exhaustive", "greedy", "dqn"):
        started = time.monotonic()
        outcome = run_strategy(strategy, measured, budgets, space, seed)
        seconds = time.monotonic() - started
        chosen = outcome.chosen.candidate if outcome.chosen else None
        rows.append(_row(model.name, strategy, chosen, reference, outcome.evaluations, seconds))
    return rows


def _row(model: str, strategy: str, chosen, reference, evaluations: int, seconds: float) -> dict:  # noqa: ANN001
    row = {"model": model, "strategy": strategy, "plan": chosen.plan if chosen else "-"}
    if chosen and reference:
        row["A loss (pts)"] = f"{reference.accuracy_pct - chosen.accuracy_pct:+.1f}"
        row["Sp x"] = f"{reference.sp_mb() / chosen.sp_mb():.2f}"
        row["T x"] = f"{reference.latency_ms / chosen.latency_ms:.2f}"
        row["E x"] = f"{reference.energy_mj / chosen.energy_mj:.2f}"
    row["evaluations"] = evaluations
    row["seconds"] = f"{seconds:.1f}"
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch",
        nargs="+",
        default=["lenet", "alexnet"],
        help="Zoo models, or keras.applications networks as NAME or NAME:alpha.",
    )
    parser.add_argument(
        "--side", type=int, default=32, help="Input side of a keras.applications network."
    )
    parser.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=None,
        help="Cap on each compression step's fine-tuning (default: COMPRESSION_FINE_TUNE_EPOCHS).",
    )
    parser.add_argument("--codes", nargs="*", help="Technique codes to keep (default: all).")
    parser.add_argument("--epochs", type=int, default=20, help="Baseline training epochs.")
    parser.add_argument("--seed", type=int, default=0, help="The DQN's seed.")
    parser.add_argument("--min-accuracy-pct", type=float, default=80.0, help="A_min, %%.")
    parser.add_argument("--latency-ms", type=float, default=None, help="T_bgt, ms.")
    parser.add_argument("--storage-mb", type=float, default=None, help="S_bgt, MB.")
    parser.add_argument(
        "--save-tables",
        type=Path,
        help="Directory to write each model's measured table to, as <arch>.csv "
        "(benchmarks/selector_strategies.py reads them).",
    )
    args = parser.parse_args(argv)
    setup_django(args.fine_tune_epochs)
    space = restricted_space(args.codes)
    rows = []
    for arch in args.arch:
        model, device = build_table(arch, space, args.epochs, args.side)
        if args.save_tables:
            from compression.selection.table_csv import save_table

            path = save_table(measured_table(model, device), args.save_tables / f"{slug(arch)}.csv")
            print(f"{arch}: table saved to {path}", flush=True)
        limits = {
            "min_accuracy_pct": args.min_accuracy_pct,
            "latency_ms": args.latency_ms,
            "storage_mb": args.storage_mb,
        }
        rows += table5_rows(model, device, space, args.seed, limits)
    import pandas as pd

    print(pd.DataFrame(rows).fillna("").to_string(index=False))


if __name__ == "__main__":
    main()
