"""The non-dominated results of a queryset over two metrics, and a faithful sample of them.

The rule is ``measurements.pareto.pareto_front``'s, over one point per plan:
for each (artifact, device, threads) only the newest stored result (highest
id) with both figures counts, so a plan imported or measured twice is never
listed twice. Exact duplicates of a front point (different plans, same
figures) are all kept.

Over 100,000 results the database would sort them three times (newest per
plan, the front's order, the twins); instead six numbers per result are read
in one round trip (``measurements.column_arrays``) and NumPy does the rest:
one sort per step, no Python loop per point. A missing (NULL or NaN) figure
leaves a result out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from measurements.column_arrays import FLOAT, INT, column_arrays
from measurements.pareto import Metric, first_of_runs, front_mask, narrow
from measurements.results_cache import memoized


@dataclass(frozen=True)
class Points:
    """The candidates of a front: the newest result with both figures of each plan.

    Attributes:
        pk, device: the result's and its device's ids.
        x, y: the two figures, as stored (not flipped for "max" goals).
        total: how many results the queryset matched (with or without figures).
        with_both: how many of them had both figures (``with_both - len(pk)``
            were superseded by a newer result of the same plan).
    """

    pk: np.ndarray
    device: np.ndarray
    x: np.ndarray
    y: np.ndarray
    total: int
    with_both: int

    def __len__(self) -> int:
        return len(self.pk)


def candidates(results: QuerySet, x: Metric, y: Metric) -> Points:
    """The newest result with both figures of each (artifact, device, threads) in ``results``.

    Kept per process until a result (or what results join) changes
    (``measurements.results_cache``): the arrays are shared and read-only.
    """
    return memoized(results, ("candidates", x.field, y.field), lambda: _candidates(results, x, y))


def _candidates(results: QuerySet, x: Metric, y: Metric) -> Points:
    found = column_arrays(
        results,
        {
            "pk": ("pk", INT),
            "artifact": ("artifact_id", INT),
            "device": ("device_id", INT),
            "threads": ("num_threads", INT),
            "x": (x.field, FLOAT),
            "y": (y.field, FLOAT),
        },
    )
    both = np.flatnonzero(~(np.isnan(found["x"]) | np.isnan(found["y"])))
    plan = [found[name][both] for name in ("artifact", "threads", "device")]
    kept = both[newest_of_each(found["pk"][both], *plan)]
    return Points(
        pk=found["pk"][kept],
        device=found["device"][kept],
        x=found["x"][kept],
        y=found["y"][kept],
        total=len(found["pk"]),
        with_both=len(both),
    )


def front_of_points(
    points: Points, x: Metric, y: Metric, per_device: bool = False
) -> list[tuple[int, int]]:
    """(result id, device id) of every front point, in no particular order."""
    cx = points.x * (-1.0 if x.goal == "max" else 1.0)
    cy = points.y * (-1.0 if y.goal == "max" else 1.0)
    on = front_mask(cx, cy, points.device if per_device else None)
    return list(zip(points.pk[on].tolist(), points.device[on].tolist(), strict=True))


def front_ids(
    results: QuerySet, x: Metric, y: Metric, per_device: bool = False
) -> tuple[list[tuple[int, int]], int]:
    """(result id, device id) of every front point, in no particular order, and the candidates.

    Args:
        results: the candidates (any filters).
        x: the first metric; y: the second.
        per_device: one front per device (the dashboard's) instead of one over all.

    Returns:
        The front's (result id, device id) pairs, and how many plans (per device and
        thread count) had a result with both figures.
    """
    points = candidates(results, x, y)
    return front_of_points(points, x, y, per_device), len(points)


def sample_of_points(points: Points, grid: int | None) -> list[int]:
    """Result ids, one per cell of a ``grid`` x ``grid`` split of the plot, per device.

    The cells split the range of all the points (every device's); of each cell
    the newest result. At most ``grid``² ids per device; every point's id when
    ``grid`` is None.
    """
    if grid is None or not len(points):
        return points.pk.tolist()
    # Just under grid: the largest value falls in the last cell, not one past it.
    scale = float(grid) * 0.999999
    cells = [_cells(values, scale) for values in (points.x, points.y)]
    return points.pk[newest_of_each(points.pk, points.device, *cells)].tolist()


def newest_of_each(pk: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Indices of the highest ``pk`` of each distinct tuple of ``keys``."""
    if not len(pk):
        return np.zeros(0, dtype=np.int64)
    key = combined(*keys)
    order = np.argsort(-pk)
    order = order[np.argsort(key[order], kind="stable")]  # by key, newest first within
    return order[first_of_runs(key[order])]


def combined(*keys: np.ndarray) -> np.ndarray:
    """One int64 per row that is equal for two rows exactly when all ``keys`` are."""
    out = np.zeros(len(keys[0]), dtype=np.int64)
    for key in keys:
        key = narrow(key).astype(np.int64)
        if (int(out.max()) + 1) * (int(key.max()) + 1) >= 2**62:  # would overflow: rank first
            out = np.unique(out, return_inverse=True)[1].reshape(-1)
            key = np.unique(key, return_inverse=True)[1].reshape(-1)
        out = out * (int(key.max()) + 1) + key
    return out


def _cells(values: np.ndarray, scale: float) -> np.ndarray:
    low, span = values.min(), values.max() - values.min()
    if span == 0:
        return np.zeros(len(values), dtype=np.int64)
    return np.floor((values - low) * scale / span).astype(np.int64)


def sample_ids(results: QuerySet, x: Metric, y: Metric, grid: int | None) -> list[int]:
    """``sample_of_points`` over the candidates of ``results``."""
    return sample_of_points(candidates(results, x, y), grid)
