"""Seed 004 table 5 on this host: exhaustive, greedy and DQN over a measured table environment.

Builds the table environment (the baseline, every technique alone and every
pair across the conv / fc / whole-model slots, on LeNet and AlexNet-13 trained
on the bundled digits), compressed and measured on the local device through
the job queue, exactly as the dashboard's sweeps are. Then, for each model,
runs the three strategies with the weights of section 5.3.1 (mu1 = 0.6,
mu2 = 0.4, mu3 = mu4 = 0.5) and prints, as table 5 does, the chosen plan, its
accuracy loss and its reductions (x) of Sp, T and E against the plan W3, and
the candidate evaluations each strategy needed.

The database defaults to var/bench-selector.sqlite3 (set DATABASE_URL to use
another); rows are kept, so a second run measures only what is new. The full
table is about 110 plans per model; ``--codes`` restricts it to a subset.

    .venv/bin/python benchmarks/selector.py [--arch lenet alexnet] [--codes C2 L1 W2 W3 L3 Q-int8]
        [--save-tables var/tables]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# A quick protocol: the stop rule still applies, with a short time cap per plan.
PROTOCOL = {"warmup_runs": 3, "min_runs": 10, "max_runs": 5000, "max_seconds": 1.0}
WEIGHTS = {"mu1": 0.6, "mu2": 0.4, "mu3": 0.5, "mu4": 0.5}
REFERENCE = "W3"


def setup_django() -> None:
    """Django against the benchmark's own database, migrated."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-selector.sqlite3'}")
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


def build_table(arch: str, space, epochs: int) -> tuple:  # noqa: ANN001
    """Train (once) the baseline, queue every plan of the space, run the local runner."""
    from device_runner.runner import Runner
    from measurements import actions

    device, _ = actions.ensure_local_device()
    dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
    name = f"bench-{arch}-digits"
    model = dataset.models.filter(name=name).first() or actions.train_and_register_baseline(
        arch, dataset, epochs=epochs, name=name
    )
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
    parser.add_argument("--arch", nargs="+", default=["lenet", "alexnet"])
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
    setup_django()
    space = restricted_space(args.codes)
    rows = []
    for arch in args.arch:
        model, device = build_table(arch, space, args.epochs)
        if args.save_tables:
            from compression.selection.table_csv import save_table

            path = save_table(measured_table(model, device), args.save_tables / f"{arch}.csv")
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
