"""The Pareto explorer: every result as a point, the non-dominated front per device, budgets.

The front is ``measurements.pareto.pareto_front`` (the computation the API
and the selector use) over the chosen x metric and accuracy or F1, computed
separately for each device: latency and energy of different devices are not
interchangeable, and the question is what to ship to one device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import QueryDict

from measurements import front_query
from measurements.column_arrays import with_ids
from measurements.models import Result
from measurements.pareto import METRICS, Metric, pareto_front
from webapp.dashboard.analysis import params, queries, scope, units
from webapp.dashboard.analysis.queries import PlanInfo, Row

X_METRICS = ("latency", "energy", "size", "gzip_size", "macs", "memory")
Y_METRICS = ("accuracy", "f1")
SIZE_METRICS = (*X_METRICS, *Y_METRICS)
# Above this many plans with both figures the plot draws a grid sample (fronts stay exact):
# a browser draws a few thousand points smoothly, and the page stays small.
MAX_POINTS = 2000


@dataclass(frozen=True)
class Budgets:
    """Limits a shippable result must meet, in the units the form asks for."""

    latency_ms: float | None = None
    energy_mj: float | None = None
    size_mb: float | None = None
    accuracy_pct: float | None = None

    @classmethod
    def from_query(cls, query: QueryDict) -> Budgets:
        """Read max_latency (ms), max_energy (mJ), max_size (MB), min_accuracy (%).

        Raises:
            BadQuery: a bad number, or an accuracy in 0..1 that reads as a fraction.
        """
        accuracy = params.amount(query, "min_accuracy", "percent", maximum=100)
        if accuracy is not None and 0 < accuracy <= 1:
            raise params.BadQuery(
                f"min_accuracy is a percentage (0-100); {accuracy:g} reads as a fraction. "
                f"Give {accuracy * 100:g} for {accuracy * 100:g} %. "
                f"Received: min_accuracy={accuracy:g}"
            )
        return cls(
            latency_ms=params.amount(query, "max_latency", "milliseconds"),
            energy_mj=params.amount(query, "max_energy", "millijoules"),
            size_mb=params.amount(query, "max_size", "MB"),
            accuracy_pct=accuracy,
        )

    def limits(self) -> list[tuple[str, str, float, str]]:
        """(metric name, "max"/"min", bound in stored units, label) for each budget set."""
        out = []
        if self.latency_ms is not None:
            out.append(("latency", "max", self.latency_ms, f"latency ≤ {self.latency_ms:g} ms"))
        if self.energy_mj is not None:
            out.append(("energy", "max", self.energy_mj, f"energy ≤ {self.energy_mj:g} mJ"))
        if self.size_mb is not None:
            label = f"file size ≤ {self.size_mb:g} MB"
            out.append(("size", "max", self.size_mb * units.MB, label))
        if self.accuracy_pct is not None:
            label = f"accuracy ≥ {self.accuracy_pct:g} %"
            out.append(("accuracy", "min", self.accuracy_pct / 100, label))
        return out

    def checker(self) -> Callable[[Row], list[str]]:
        """A function giving the labels of the budgets a row misses (missing figures miss)."""
        limits = [
            (METRICS[name].field, side, bound, label) for name, side, bound, label in self.limits()
        ]

        def missed(row: Row) -> list[str]:
            out = []
            for field_name, side, bound, label in limits:
                value = row[field_name]
                # None or NaN cannot be shown to fit.
                unknown = value is None or value != value
                if unknown or (value > bound if side == "max" else value < bound):
                    out.append(label)
            return out

        return missed


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
    grid over the plot, per device.

    Raises:
        BadQuery: an unknown metric, a malformed id, or a bad budget.
    """
    page = Explorer(
        scope=scope.resolve(query),
        x=params.metric(query, "x", "latency", X_METRICS),
        y=params.metric(query, "y", "accuracy", Y_METRICS),
        size=params.optional_metric(query, "size", SIZE_METRICS),
        budgets=Budgets.from_query(query),
    )
    points = front_query.candidates(page.scope.results(), page.x, page.y)
    fronts = front_query.front_of_points(points, page.x, page.y, per_device=True)
    page.unplotted = points.total - points.with_both
    page.superseded = points.with_both - len(points)
    grid = None
    if len(points) > MAX_POINTS:
        devices = len({device for _, device in fronts}) or 1
        grid = max(2, int(math.sqrt(MAX_POINTS / devices)))
        page.sampled_from = len(points)
    shown = {*front_query.sample_of_points(points, grid), *(pk for pk, _ in fronts)}
    found = list(with_ids(Result.objects.order_by(), shown).values(*queries.ROW_FIELDS))
    _place(page, found, {pk for pk, _ in fronts})
    return page


def _place(page: Explorer, found: list[Row], front_pks: set[int]) -> None:
    """Make the points of ``found`` and each device's front (by increasing x, then id)."""
    info = queries.plans({r["artifact__plan_id"] for r in found})
    models, devices = page.scope.model_names, page.scope.device_names
    missed = page.budgets.checker()
    for row in sorted(found, key=lambda r: r["pk"]):
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


def newest_with(rows: list[Row], x_field: str, y_field: str) -> list[Row]:
    """One row per plan of a model on a device at a thread count: the newest with both figures.

    A plan measured (or imported) twice is one point, never two on a front;
    rows without both figures are kept only where no row of theirs has both.
    """
    chosen: dict[tuple[int, int, int], Row] = {}
    lacking: list[Row] = []
    for row in rows:
        x, y = row[x_field], row[y_field]
        if x is None or y is None or x != x or y != y:
            lacking.append(row)
            continue
        key = (row["artifact_id"], row["device_id"], row["num_threads"])
        if key not in chosen or chosen[key]["pk"] < row["pk"]:  # the newest stored wins
            chosen[key] = row
    keys = {(r["artifact_id"], r["device_id"], r["num_threads"]) for r in chosen.values()}
    unplotted = [
        r for r in lacking if (r["artifact_id"], r["device_id"], r["num_threads"]) not in keys
    ]
    return [*chosen.values(), *unplotted]


def front(points: list[Point], x: Metric, y: Metric) -> list[Point]:
    """The non-dominated points of one device, by increasing x (ties by result id)."""
    chosen = pareto_front([(p.row[x.field], p.row[y.field]) for p in points], [x.goal, y.goal])
    return sorted((points[i] for i in chosen), key=lambda p: (p.row[x.field], p.pk))


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
