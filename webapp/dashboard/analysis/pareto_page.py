"""The Pareto explorer: every result as a point, the non-dominated front per device, budgets.

The front is ``measurements.pareto.pareto_front`` (the computation the API
and the selector use) over the chosen x metric and accuracy or F1, computed
separately for each device: latency and energy of different devices are not
interchangeable, and the question is what to ship to one device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import QueryDict

from compression.selection.budgets import Budgets
from measurements import front_query
from measurements.column_arrays import with_ids
from measurements.models import Result
from measurements.pareto import Metric
from measurements.results_cache import OBJECT_BYTES, memoized
from webapp.dashboard.analysis import params, queries, scope, units
from webapp.dashboard.analysis.pareto_budgets import (
    Limit,
    budget_checker,
    budget_limits,
    budgets_from_query,
)
from webapp.dashboard.analysis.queries import PlanInfo, Row

X_METRICS = ("latency", "energy", "size", "gzip_size", "macs", "memory")
Y_METRICS = ("accuracy", "f1")
SIZE_METRICS = (*X_METRICS, *Y_METRICS)
# Above this many plans with both figures the plot draws a grid sample (fronts stay exact):
# a browser draws a few thousand points smoothly, and the page stays small.
MAX_POINTS = 2000


@dataclass(slots=True)
class Point:
    """One result on the plot (slots: the explorer makes thousands)."""

    row: Row
    plan: PlanInfo
    model: str
    device: str
    missed: list[str]

    @property
    def pk(self) -> int:
        """The result's id."""
        return self.row["pk"]

    @property
    def feasible(self) -> bool:
        """Whether the result meets every budget."""
        return not self.missed


@dataclass
class Explorer:
    """What the Pareto page shows."""

    scope: scope.Scope
    x: Metric
    y: Metric
    size: Metric | None
    budgets: Budgets
    points: list[Point] = field(default_factory=list)
    fronts: dict[str, list[Point]] = field(default_factory=dict)
    unplotted: int = 0
    sampled_from: int = 0  # when the plot draws a sample: how many points it stands for
    superseded: int = 0  # older results of a plan that has a newer one with both figures

    @property
    def limits(self) -> list[Limit]:
        """Each budget set, as a bound on its metric in stored units, with its label."""
        return budget_limits(self.budgets)

    @property
    def front_points(self) -> list[Point]:
        """Every device's front, device by device, each by increasing x."""
        return [p for device in sorted(self.fronts) for p in self.fronts[device]]

    @property
    def feasible_front(self) -> bool:
        """Whether any front point meets every budget."""
        return any(p.feasible for p in self.front_points)

    def best_within_budgets(self) -> dict[str, Point | None]:
        """Per device, the front point with the best y that meets every budget."""
        sign = 1 if self.y.goal == "max" else -1
        best: dict[str, Point | None] = {}
        for device, front in sorted(self.fronts.items()):
            ok = [p for p in front if p.feasible]
            best[device] = max(ok, key=lambda p: sign * p.row[self.y.field], default=None)
        return best


def explore(query: QueryDict) -> Explorer:
    """Read the page's filters, its results, and each device's front.

    The fronts and counts cover every result in scope, one point per plan
    (``measurements.front_query``: six numbers a result, read once); above
    MAX_POINTS the plot draws a sample, the newest result of each cell of a
    grid over the plot, per device. What is read is kept per process until a
    result (or what results join) changes (``measurements.results_cache``).

    Raises:
        BadQuery: an unknown metric, a malformed id, or a bad budget.
    """
    page = Explorer(
        scope=scope.resolve(query),
        x=params.metric(query, "x", "latency", X_METRICS),
        y=params.metric(query, "y", "accuracy", Y_METRICS),
        size=params.optional_metric(query, "size", SIZE_METRICS),
        budgets=budgets_from_query(query),
    )
    results = page.scope.results()
    limit = MAX_POINTS
    tag = ("pareto explorer", page.x.field, page.y.field, limit)
    chosen = memoized(results, tag, lambda: choose(results, page.x, page.y, limit), _weight)
    page.unplotted, page.superseded = chosen.unplotted, chosen.superseded
    page.sampled_from = chosen.sampled_from
    _place(page, chosen)
    return page


@dataclass(frozen=True)
class Chosen:
    """What the explorer reads from the database for one scope and metric pair.

    Attributes:
        rows: the plotted results (the sample and every front point), by id.
        plans: the plans they use.
        front: the ids of the front points (each device's).
        unplotted, superseded, sampled_from: as Explorer's.
    """

    rows: list[Row]
    plans: dict[int, PlanInfo]
    front: frozenset[int]
    unplotted: int
    superseded: int
    sampled_from: int


def choose(results: QuerySet[Result], x: Metric, y: Metric, limit: int) -> Chosen:
    """The candidates of ``results``, each device's front, the sample, and their rows.

    Above ``limit`` candidates the plot draws a grid sample (MAX_POINTS).
    """
    points = front_query.candidates(results, x, y)
    fronts = front_query.front_of_points(points, x, y, per_device=True)
    grid, sampled_from = None, 0
    if len(points) > limit:
        devices = len({device for _, device in fronts}) or 1
        grid = max(2, int(math.sqrt(limit / devices)))
        sampled_from = len(points)
    shown = {*front_query.sample_of_points(points, grid), *(pk for pk, _ in fronts)}
    found = list(with_ids(Result.objects.order_by(), shown).values(*queries.ROW_FIELDS))
    found.sort(key=lambda r: r["pk"])
    return Chosen(
        rows=found,
        plans=queries.plans({r["artifact__plan_id"] for r in found}),
        front=frozenset(pk for pk, _ in fronts),
        unplotted=points.total - points.with_both,
        superseded=points.with_both - len(points),
        sampled_from=sampled_from,
    )


def _weight(chosen: Chosen) -> int:
    return (len(chosen.rows) * (len(queries.ROW_FIELDS) + 1) + len(chosen.front)) * OBJECT_BYTES


def _place(page: Explorer, chosen: Chosen) -> None:
    """Make the points of ``chosen`` and each device's front (by increasing x, then id)."""
    info, front_pks = chosen.plans, chosen.front
    models, devices = page.scope.model_names, page.scope.device_names
    missed = budget_checker(page.budgets)
    for row in chosen.rows:
        point = Point(
            row,
            info[row["artifact__plan_id"]],
            models[row["artifact__model_id"]],
            devices[row["device_id"]],
            missed(row),
        )
        page.points.append(point)
        if point.pk in front_pks:
            page.fronts.setdefault(point.device, []).append(point)
    for front in page.fronts.values():
        front.sort(key=lambda p: (p.row[page.x.field], p.pk))


def show(metric: Metric, value: object) -> str:
    """A metric's value with its unit, as the front table prints it."""
    if metric.unit == "bytes":
        return units.size(value)
    if metric.unit == "MACs":
        return units.macs(value)
    if metric.goal == "max":
        return units.percent(value)
    return units.with_unit(value, metric.unit)


@dataclass(frozen=True)
class FrontRow:
    """One front point as the table beneath the plot prints it."""

    point: Point
    x: str
    y: str
    energy: str
    best: bool
    source: str  # measured, or imported (label)


def front_rows(page: Explorer) -> list[FrontRow]:
    """Every device's front, device by device, with the best point within budgets marked."""
    best = {p.pk for p in page.best_within_budgets().values() if p is not None}
    rows = []
    for p in page.front_points:
        energy = queries.energy_label(p.row)
        if units.finite(p.row["energy_mj"]):
            energy = f"{units.number(p.row['energy_mj'])} mJ, {energy}"
        x, y = show(page.x, p.row[page.x.field]), show(page.y, p.row[page.y.field])
        rows.append(FrontRow(p, x, y, energy, p.pk in best, queries.figures_source(p.row)))
    return rows
