"""Non-dominated sets over any metric pair or set, and the metrics they range over.

One computation serves the dashboard, the API and the selector. Plain Python
and NumPy: no Django import, so it can be tested on random data directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    """A figure a front can be drawn over.

    Attributes:
        name: the short name used in URLs and the API.
        field: the Result lookup that holds it (may cross to the artifact).
        goal: "min" or "max".
        unit: shown beside numbers.
        label: shown on axes.
    """

    name: str
    field: str
    goal: str
    unit: str
    label: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("latency", "latency_mean_ms", "min", "ms", "Latency (mean)"),
        Metric("energy", "energy_mj", "min", "mJ", "Energy per inference"),
        Metric("size", "artifact__file_size", "min", "bytes", "Model file size"),
        Metric("gzip_size", "artifact__gzip_size", "min", "bytes", "Gzip-compressed size"),
        Metric("macs", "artifact__macs", "min", "MACs", "Multiply-accumulates"),
        Metric("memory", "peak_memory_bytes", "min", "bytes", "Peak memory"),
        Metric("accuracy", "accuracy", "max", "", "Accuracy"),
        Metric("f1", "f1", "max", "", "F1 (macro)"),
    )
}


def get_metric(name: str) -> Metric:
    """The metric called ``name``; ValueError listing the known ones otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(METRICS)
        raise ValueError(f"Unknown metric. Known: {known}. Received: metric={name!r}") from None


def pareto_front(points: Sequence[Sequence[float]], goals: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points, in input order.

    A point dominates another when it is at least as good on every axis and
    strictly better on one. Points with a missing (None/NaN) figure are left
    out. Exact duplicates are all kept (none strictly dominates the other).

    Args:
        points: one row per candidate, one column per metric.
        goals: "min" or "max" per column.

    Returns:
        Sorted indices into ``points``.
    """
    if any(goal not in ("min", "max") for goal in goals):
        raise ValueError(f"Each goal must be 'min' or 'max'. Received: goals={list(goals)}")
    if not len(points):
        return []
    data = np.array(points, dtype=float).reshape(len(points), len(goals))
    keep = ~np.isnan(data).any(axis=1)
    index = np.flatnonzero(keep)
    # Flip maximised axes so every axis is minimised.
    costs = data[keep] * np.where(np.array(goals) == "max", -1.0, 1.0)
    front = _front_2d(costs) if costs.shape[1] == 2 else _front_nd(costs)
    return sorted(int(index[i]) for i in front)


def _front_2d(costs: np.ndarray) -> list[int]:
    return np.flatnonzero(front_mask(costs[:, 0], costs[:, 1])).tolist()


def front_mask(cx: np.ndarray, cy: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Which points are non-dominated within their group, both costs minimised.

    Sorted by x, a point is on its group's front when its y is the lowest of
    the points sharing its x (an exact twin of such a point stays too) and
    below every y of a smaller x. One sort by x (plus a stable one by group)
    and cumulative minima: O(n log n), no Python loop per point, and no
    sort on a second float key (NumPy's lexsort on floats costs 60 ms at
    100,000 points, more than everything else here together).

    Args:
        cx: the first cost of each point (no NaN).
        cy: the second cost of each point (no NaN).
        groups: an integer per point (e.g. its device); None for one front over all.

    Returns:
        A boolean array, True for the points on their group's front.
    """
    count = len(cx)
    if not count:
        return np.zeros(0, dtype=bool)
    order = np.argsort(cx)  # unstable: ties in x are settled by the runs below
    g = np.zeros(count, dtype=np.int64)
    if groups is not None:
        small = narrow(np.asarray(groups))
        order = order[np.argsort(small[order], kind="stable")]
        g = small[order]
    sx, sy = cx[order], cy[order]
    run_first = first_of_runs(g, sx)  # a run: one group, one x
    starts = np.flatnonzero(run_first)
    run_best = np.minimum.reduceat(sy, starts)
    before = np.empty(len(starts))  # the lowest y of the group's earlier runs
    group_starts = np.flatnonzero(first_of_runs(g[starts]))
    for first, stop in zip(group_starts, [*group_starts[1:], len(starts)], strict=True):
        before[first] = np.inf
        before[first + 1 : stop] = np.minimum.accumulate(run_best[first : stop - 1])
    run = np.cumsum(run_first) - 1
    mask = np.zeros(count, dtype=bool)
    mask[order] = (sy == run_best[run]) & (run_best[run] < before[run])
    return mask


def narrow(values: np.ndarray) -> np.ndarray:
    """Integers as their offsets from the smallest, in 16 bits when they fit.

    NumPy sorts 16-bit integers stably by radix, six times faster than int64.
    """
    if not len(values):
        return values
    offsets = values - values.min()
    return offsets.astype(np.uint16) if offsets.max() < 2**16 else offsets


def first_of_runs(*columns: np.ndarray) -> np.ndarray:
    """True for each row of sorted ``columns`` that differs from the row before it."""
    first = np.zeros(len(columns[0]), dtype=bool)
    first[:1] = True
    for column in columns:
        first[1:] |= column[1:] != column[:-1]
    return first


def _front_nd(costs: np.ndarray) -> list[int]:
    front = []
    for i, row in enumerate(costs):
        no_worse = (costs <= row).all(axis=1)
        better = (costs < row).any(axis=1)
        if not (no_worse & better).any():
            front.append(i)
    return front
