"""How far a pair strays from the sum of its two techniques, on measured tables.

The composition search (``compression/selection/composition.py``) predicts a
pair from its parts: accuracy drops add, and energy, latency and storage
multiply. This prints, per table and figure, the spread of what that misses
(the interaction plus measurement noise), the evidence for the model's prior
noise:

- accuracy, in points: ``A(a+b) - (A(a) + A(b) - A(baseline))``;
- the others, as log factors: ``log F(a+b) - (log F(a) + log F(b) - log F(baseline))``.

Printed per figure: the pairs compared, the standard deviation, a robust one
(1.4826 x the median absolute deviation, what a normal spread would give) and
the 90th percentile of the absolute miss. The tails are heavy: a few pairs
collapse (two prunings that each keep accuracy may not together) while most
compose closely, which is why the standard deviation is far above the robust one.

    .venv/bin/python benchmarks/pair_interactions.py benchmarks/results/selector-*.csv
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compression.selection.candidates import Candidate  # noqa: E402
from compression.selection.composition import FIGURES  # noqa: E402
from compression.selection.space import BASELINE, steps_of  # noqa: E402
from compression.selection.table_csv import load_table  # noqa: E402

MAD_TO_SD = 1.4826  # the median absolute deviation of a normal spread, in standard deviations


def misses(candidates: Sequence[Candidate], name: str) -> list[float]:
    """Each pair's miss against the sum of its parts, for one figure (log scale where modelled).

    Pairs whose baseline, parts or own figure are unknown are left out.
    """
    logged = FIGURES[name][0]
    value = {}
    for c in candidates:
        figure = getattr(c, name)
        if figure is not None and (figure > 0 or not logged):
            value[c.plan] = math.log(figure) if logged else figure
    if BASELINE not in value:
        return []
    result = []
    for plan, figure in value.items():
        steps = steps_of(plan)
        if len(steps) == 2 and all(s in value for s in steps):
            result.append(figure - (value[steps[0]] + value[steps[1]] - value[BASELINE]))
    return result


def summary(values: Sequence[float]) -> dict[str, float]:
    """Count, standard deviation, robust standard deviation and 90th percentile of |miss|."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return {"pairs": 0, "sd": math.nan, "robust sd": math.nan, "p90 |miss|": math.nan}
    robust = MAD_TO_SD * float(np.median(np.abs(array - np.median(array))))
    return {
        "pairs": int(array.size),
        "sd": float(array.std(ddof=1)) if array.size > 1 else math.nan,
        "robust sd": robust,
        "p90 |miss|": float(np.percentile(np.abs(array), 90)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", type=Path, help="Table CSVs (table_csv.save_table).")
    args = parser.parse_args(argv)
    import pandas as pd

    rows = []
    for path in args.tables:
        candidates = load_table(path)
        for name in FIGURES:
            rows.append({"table": path.stem, "figure": name, **summary(misses(candidates, name))})
    print("Pair misses against the sum of their parts (accuracy in points, others as log factors)")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
