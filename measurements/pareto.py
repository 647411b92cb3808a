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
    # Sorted by x then y, a point is on the front when its y is below every y
    # seen so far, or when it duplicates the front point just before it.
    # Plain Python floats in the loop: indexing NumPy scalars is several times slower.
    order = np.lexsort((costs[:, 1], costs[:, 0])).tolist()
    rows = costs.tolist()
    front: list[int] = []
    best_y = float("inf")
    for i in order:
        x, y = rows[i]
        if y < best_y:
            front.append(i)
            best_y = y
        elif front and rows[front[-1]] == [x, y]:
            front.append(i)
    return front


def _front_nd(costs: np.ndarray) -> list[int]:
    front = []
    for i, row in enumerate(costs):
        no_worse = (costs <= row).all(axis=1)
        better = (costs < row).any(axis=1)
        if not (no_worse & better).any():
            front.append(i)
    return front
