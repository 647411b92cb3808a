"""The device matrix: devices x techniques, each cell the best plan under one objective.

Seed 004 table 7 lists, per device, the combination AdaDeep chose and its
Sp, C, T, E reductions and accuracy loss against the initial DNN. Here each
row is a device, each column a technique category (or code), and a cell the
best measured plan that uses it; the row ends with the best plan overall and
its reductions over the baseline measured on that device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import QueryDict

from webapp.dashboard.analysis import params, queries, scope, units
from webapp.dashboard.analysis.queries import Normalised, PlanInfo, Row

# objective -> (Result values() key, goal, unit shown)
OBJECTIVES = {
    "latency": ("latency_mean_ms", "min", "ms"),
    "energy": ("energy_mj", "min", "mJ"),
    "size": ("artifact__file_size", "min", "bytes"),
    "accuracy": ("accuracy", "max", "%"),
}
GROUPS = ("category", "code")


@dataclass(frozen=True)
class Cell:
    """The best result of a device for one column."""

    row: Row
    plan: PlanInfo
    value: str
    norm: Normalised | None

    @property
    def energy_how(self) -> str:
        """How this result's energy was obtained (measured by what, or estimated)."""
        return queries.energy_label(self.row)


@dataclass
class MatrixRow:
    """One device: its baseline, a cell per column, and the best plan overall."""

    device: str
    baseline: Row | None
    cells: list[Cell | None]
    best: Cell | None


@dataclass
class Matrix:
    """What the device-matrix page shows."""

    scope: scope.Scope
    objective: str
    group: str
    min_accuracy: float | None
    columns: list[str] = field(default_factory=list)
    rows: list[MatrixRow] = field(default_factory=list)
    candidates: int = 0


def build(query: QueryDict) -> Matrix:
    """Read the filters (one model, one thread count) and fill the matrix.

    Raises:
        BadQuery: an unknown objective or grouping, a malformed id or accuracy.
    """
    page = Matrix(
        scope=scope.resolve(query, single_model=True),
        objective=params.choice(query, "objective", "latency", tuple(OBJECTIVES)),
        group=params.choice(query, "group", "category", GROUPS),
        min_accuracy=params.amount(query, "min_accuracy", "percent", maximum=100),
    )
    results = page.scope.results()
    bases = queries.baselines(results)
    found = queries.rows(results.exclude(artifact__plan__canonical=queries.BASELINE))
    info = queries.plans({r["artifact__plan_id"] for r in found})
    field_name, goal, _ = OBJECTIVES[page.objective]
    eligible = [r for r in found if units.finite(r[field_name]) and _accurate(r, page.min_accuracy)]
    page.candidates = len(eligible)
    page.columns = sorted(
        {c for r in eligible for c in _columns(info[r["artifact__plan_id"]], page.group)}
    )
    by_device: dict[int, list[Row]] = {}
    for row in eligible:
        by_device.setdefault(row["device_id"], []).append(row)
    names = page.scope.device_names
    for device_id in sorted(by_device, key=lambda d: names[d]):
        page.rows.append(_device_row(page, names[device_id], by_device[device_id], bases, info))
    return page


def _accurate(row: Row, minimum_pct: float | None) -> bool:
    if minimum_pct is None:
        return True
    return units.finite(row["accuracy"]) and row["accuracy"] * 100 >= minimum_pct


def _columns(plan: PlanInfo, group: str) -> set[str]:
    return set(plan.categories if group == "category" else plan.codes)


def _device_row(
    page: Matrix, device: str, rows: list[Row], bases: dict, info: dict[int, PlanInfo]
) -> MatrixRow:
    field_name, goal, _ = OBJECTIVES[page.objective]
    sign = 1 if goal == "min" else -1

    def rank(row: Row) -> tuple:
        # Best objective first; then higher accuracy, then the older result id.
        accuracy = row["accuracy"] if units.finite(row["accuracy"]) else -1.0
        return (sign * row[field_name], -accuracy, row["pk"])

    base = bases.get(queries.key(rows[0]))
    cells: list[Cell | None] = []
    for column in page.columns:
        using = [r for r in rows if column in _columns(info[r["artifact__plan_id"]], page.group)]
        best = min(using, key=rank, default=None)
        cells.append(_cell(page, best, base, info) if best else None)
    return MatrixRow(device, base, cells, _cell(page, min(rows, key=rank), base, info))


def _cell(page: Matrix, row: Row, base: Row | None, info: dict[int, PlanInfo]) -> Cell:
    field_name, _, unit = OBJECTIVES[page.objective]
    value = row[field_name]
    if unit == "bytes":
        shown = units.size(value)
    elif unit == "%":
        shown = units.percent(value)
    else:
        shown = f"{units.number(value)} {unit}"
    norm = queries.normalise(row, base) if base else None
    return Cell(row, info[row["artifact__plan_id"]], shown, norm)
