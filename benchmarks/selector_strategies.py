"""Which strategy should be the default: each one's hit rate and cost on measured tables.

For every table (CSV written by ``benchmarks/selector.py --save-tables`` or by
``compression.selection.table_csv.save_table``; ``--synthetic SEED ...`` adds
the tests' structured tables, 112 plans whose figures compose with 3 % noise)
and each of N random budget
settings, every strategy runs on the table; a setting counts as a hit when
the strategy returns the exhaustive optimum (or, like exhaustive, nothing
when nothing fits). Printed per table and strategy: the share of hits, the
mean evaluations spent and their share of the table's plans, and the
settings where the strategy found nothing while a plan fits, and how close a miss came:
the share of settings whose chosen plan scores within NEAR (0.01) of the
optimum's eq. 1 score (a hit counts; so does nothing when nothing fits; a
plan chosen while nothing fits, or nothing chosen while a plan fits, does
not). Exhaustive is
the reference, run in the same pass (share 1, every plan evaluated). Issue
16's bar: a share of at least 0.9 while never evaluating more than a quarter
of the plans (every plan a strategy asked for counts, singles included).

The search space is the technique registry's slots (conv / fc / model)
restricted to the techniques the table's plans use. The DQN trains a Keras
network per setting (seconds each); leave it out with ``--strategies``.

Compose starts from what the techniques did to the other networks
(``effect_prior``), learnt leave-one-table-out: from the other table files
for a file, from the other structured tables for a structured one, never
from the table searched. ``compose-alone`` is compose without that prior
(starting from "no effect"), for comparison.

    .venv/bin/python benchmarks/selector_strategies.py var/tables/*.csv [--settings 50]
        [--synthetic 0 1 2] [--strategies exhaustive greedy tpe compose compose-alone]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compression.selection import Budgets, Candidate, EffectPrior, Space, run_strategy  # noqa: E402
from compression.selection.table_csv import load_table  # noqa: E402

STRATEGIES = ("exhaustive", "greedy", "tpe", "compose", "compose-alone", "dqn")
OPEN_CHANCE = 0.3  # each budget is left open this often
BAR_SHARE, BAR_PLANS = 0.9, 0.25  # issue 16: the optimum this often, at most this share of plans
NEAR = 0.01  # eq. 1 lies near 0..1 (objective.py): a hundredth of the baseline's worth


def space_for(candidates: Sequence[Candidate]) -> Space:
    """The registry's slots keeping the techniques the table's plans use."""
    from compression.selection.space import Slot, registry_space

    steps = {step for c in candidates for step in c.plan.split(" + ")}
    slots = [
        Slot(s.name, tuple(o for o in s.options if o in steps)) for s in registry_space().slots
    ]
    return Space(tuple(s for s in slots if s.options))


def random_settings(candidates: Sequence[Candidate], count: int, seed: int) -> list[Budgets]:
    """Budgets drawn from the table's own figures, so each binds somewhere in its range.

    Each limit is open with chance OPEN_CHANCE, else a random value between
    the table's 10th and 100th percentile (the 0th and 90th for the minimum
    accuracy); mu1 and mu3 are uniform in 0.1..0.9.
    """
    rng = np.random.default_rng(seed)
    complete = [c for c in candidates if c.complete]
    figures = {
        "min_accuracy_pct": ([c.accuracy_pct for c in complete], (0, 90)),
        "max_energy_mj": ([c.energy_mj for c in complete], (10, 100)),
        "latency_ms": ([c.latency_ms for c in complete], (10, 100)),
        "storage_mb": ([c.storage_mb for c in complete], (10, 100)),
    }
    settings = []
    for _ in range(count):
        limits = {}
        for name, (values, (low, high)) in figures.items():
            if values and rng.random() >= OPEN_CHANCE:
                limits[name] = float(np.percentile(values, rng.uniform(low, high)))
        mu1, mu3 = (round(float(rng.uniform(0.1, 0.9)), 3) for _ in range(2))
        settings.append(Budgets(**limits, mu1=mu1, mu2=1 - mu1, mu3=mu3, mu4=1 - mu3))
    return settings


def compare(
    candidates: Sequence[Candidate],
    settings: Sequence[Budgets],
    strategies: Sequence[str],
    seed: int = 0,
    space: Space | None = None,
    prior: EffectPrior | None = None,
) -> list[dict]:
    """Each strategy's hits against exhaustive and the evaluations it spent.

    ``prior`` goes to compose; ``compose-alone`` is compose without it.
    """
    space = space or space_for(candidates)
    plans = sum(1 for c in candidates if c.complete)
    tally = {
        s: {"hits": 0, "near": 0, "evaluations": [], "missed": 0, "seconds": 0.0}
        for s in strategies
    }
    for index, budgets in enumerate(settings):
        reference = run_strategy("exhaustive", candidates, budgets)
        optimum = reference.chosen
        best = optimum.candidate.plan if optimum else None
        totals = {s.candidate.plan: s.total for s in reference.ranked if s.feasible}
        for strategy in strategies:
            started = time.monotonic()
            outcome = _run(strategy, candidates, budgets, space, seed + index, prior)
            entry = tally[strategy]
            entry["seconds"] += time.monotonic() - started
            chosen = outcome.chosen.candidate.plan if outcome.chosen else None
            entry["hits"] += chosen == best
            entry["near"] += _near(chosen, best, totals)
            entry["missed"] += chosen is None and best is not None
            entry["evaluations"].append(outcome.evaluations)
    rows = []
    for strategy, entry in tally.items():
        share, most = entry["hits"] / len(settings), max(entry["evaluations"])
        rows.append(
            {
                "strategy": strategy,
                "optimum share": share,
                "evaluations (mean)": float(np.mean(entry["evaluations"])),
                "evaluations (max)": most,
                "share of plans": float(np.mean(entry["evaluations"])) / plans if plans else 0.0,
                f"within {NEAR} of its score": entry["near"] / len(settings),
                "nothing found but a plan fits": entry["missed"],
                "meets the bar": share >= BAR_SHARE and most <= BAR_PLANS * plans,
                "seconds": entry["seconds"],
            }
        )
    return rows


def _run(
    strategy: str,
    candidates: Sequence[Candidate],
    budgets: Budgets,
    space: Space,
    seed: int,
    prior: EffectPrior | None,
):
    if strategy == "compose-alone":
        return run_strategy("compose", candidates, budgets, space, seed)
    return run_strategy(strategy, candidates, budgets, space, seed, prior)


def priors(groups: Sequence[dict[str, list[Candidate]]]) -> dict[str, EffectPrior]:
    """Each table's prior, learnt from the other tables of its group (leave-one-table-out)."""
    learnt = {}
    for tables in groups:
        for name in tables:
            others = {other: rows for other, rows in tables.items() if other != name}
            learnt[name] = EffectPrior.learn(others)
    return learnt


def _near(chosen: str | None, best: str | None, totals: dict[str, float]) -> bool:
    """Whether the chosen plan's eq. 1 score is within NEAR of the optimum's (feasible only)."""
    if chosen is None or best is None:
        return chosen == best
    return chosen in totals and totals[best] - totals[chosen] <= NEAR


def synthetic_tables(seeds: Sequence[int]) -> dict[str, list[Candidate]]:
    """The tests' structured tables (112 plans each), named by seed."""
    from tests.compression.selection.tables import structured_table

    return {f"structured-{seed}": structured_table(seed) for seed in seeds}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", type=Path, help="Candidate tables (CSV).")
    parser.add_argument(
        "--synthetic", nargs="*", type=int, default=[], help="Structured tables' seeds to add."
    )
    parser.add_argument("--settings", type=int, default=50, help="Budget settings per table.")
    parser.add_argument("--seed", type=int, default=0, help="Budgets' and strategies' seed.")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    args = parser.parse_args(argv)
    if args.settings < 1:
        parser.error(f"--settings must be at least 1. Received: --settings={args.settings}")
    if not args.tables and not args.synthetic:
        parser.error("Give table files, --synthetic seeds, or both. Received: neither")
    files = {path.stem: load_table(path) for path in args.tables}
    synthetic = synthetic_tables(args.synthetic)
    learnt = priors([files, synthetic])
    rows = []
    for name, candidates in {**files, **synthetic}.items():
        settings = random_settings(candidates, args.settings, args.seed)
        prior = learnt[name]
        print(f"{name}: compose's prior from {', '.join(prior.networks) or 'none'}", flush=True)
        for row in compare(candidates, settings, args.strategies, args.seed, prior=prior):
            rows.append({"table": name, "plans": len(candidates), **row})
            print(f"{name}: {row['strategy']} done", file=sys.stderr, flush=True)
    import pandas as pd

    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return rows


if __name__ == "__main__":
    main()
