"""Random candidate tables for the selector's tests."""

from __future__ import annotations

import numpy as np

from compression.selection import Candidate, Slot, Space

SPACE = Space(
    (Slot("conv", ("C1", "C2", "L1")), Slot("fc", ("W2", "W3")), Slot("model", ("Q-int8",)))
)


def random_table(seed: int, space: Space = SPACE, measured: bool = True) -> list[Candidate]:
    """Every single and pair of ``space`` with random figures in plausible ranges."""
    rng = np.random.default_rng(seed)
    source = "measured" if measured else "predicted"
    table = []
    for plan in space.singles_and_pairs():
        total = float(rng.uniform(0.05, 3.0))
        table.append(
            Candidate(
                plan=plan,
                accuracy_pct=float(rng.uniform(40, 99)),
                energy_mj=float(rng.uniform(0.1, 20)),
                latency_ms=float(rng.uniform(0.2, 30)),
                storage_mb=total,
                weights_mb=total * float(rng.uniform(0.5, 0.95)),
                sources={"accuracy_pct": "host-evaluated", "latency_ms": source},
            )
        )
    return table


# The technique registry's slots: 112 singles and pairs, like a full measured table.
WIDE_SPACE = Space(
    (
        Slot("conv", ("C1", "C2", "C3", "L1", "L2", "Ps", "W1c")),
        Slot("fc", ("L3", "W1f", "W2", "W3")),
        Slot("model", ("Cl", "KD", "Q-dyn", "Q-f16", "Q-int8", "QAT")),
    )
)


def structured_table(seed: int, space: Space = WIDE_SPACE, noise: float = 0.03) -> list[Candidate]:
    """Singles and pairs whose figures compose: each option scales A, E, T and S.

    A real table has this structure (a pair costs roughly what its two
    techniques cost together), which a sample-efficient search can learn and
    a random table lacks. Every figure gets ``noise`` (relative sd) of noise.
    """
    rng = np.random.default_rng(seed)
    effects = {
        option: {
            "accuracy_pct": float(rng.uniform(-12, 0.5)),
            "energy_mj": float(rng.uniform(0.3, 1.05)),
            "latency_ms": float(rng.uniform(0.3, 1.1)),
            "storage_mb": float(rng.uniform(0.1, 1.0)),
        }
        for slot in space.slots
        for option in slot.options
    }
    table = []
    for plan in space.singles_and_pairs():
        steps = [] if plan == "baseline" else plan.split(" + ")
        figures = {"accuracy_pct": 95.0, "energy_mj": 10.0, "latency_ms": 8.0, "storage_mb": 2.0}
        for step in steps:
            figures["accuracy_pct"] += effects[step]["accuracy_pct"]
            for name in ("energy_mj", "latency_ms", "storage_mb"):
                figures[name] *= effects[step][name]
        noisy = {k: v * float(rng.normal(1.0, noise)) for k, v in figures.items()}
        table.append(
            Candidate(
                plan=plan,
                weights_mb=noisy["storage_mb"] * 0.8,
                sources={"accuracy_pct": "host-evaluated", "latency_ms": "measured"},
                **noisy,
            )
        )
    return table
