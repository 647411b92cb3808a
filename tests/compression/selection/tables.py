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
