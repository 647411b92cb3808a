"""The Pareto page's budgets: read from its query, each a bound on a plotted metric.

The budgets are ``compression.selection.budgets.Budgets``, the one type the
selector reads too, with one unit per quantity in its field names. This module
is the page's edge: its query parameters (named and unit-labelled as the form
asks for them, which are the Budgets' units), each bound in its metric's stored
unit (bytes, fractions), and the label a missed budget reads as.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import QueryDict

from compression.selection.budgets import BudgetError, Budgets
from measurements.pareto import METRICS
from webapp.dashboard.analysis import params, units
from webapp.dashboard.analysis.queries import Row


@dataclass(frozen=True)
class PageBudget:
    """One budget field of the page's form.

    Attributes:
        param: the query parameter.
        field: the Budgets field it fills (its unit is the form's).
        unit: the unit, as the form and its error messages say it.
        metric: the ``measurements.pareto`` metric it bounds.
        side: "max" (at most) or "min" (at least).
        to_stored: the bound in the metric's stored unit.
        label: how a missed budget reads, formatted with the bound.
        maximum: the largest value the form accepts.
    """

    param: str
    field: str
    unit: str
    metric: str
    side: str
    to_stored: Callable[[float], float]
    label: str
    maximum: float | None = None


PAGE_BUDGETS = (
    PageBudget("max_latency", "latency_ms", "milliseconds", "latency", "max",
               to_stored=float, label="latency ≤ {:g} ms"),
    PageBudget("max_energy", "max_energy_mj", "millijoules", "energy", "max",
               to_stored=float, label="energy ≤ {:g} mJ"),
    PageBudget("max_size", "max_file_mb", "MB", "size", "max",
               to_stored=lambda mb: mb * units.MB, label="file size ≤ {:g} MB"),
    PageBudget("min_accuracy", "min_accuracy_pct", "percent", "accuracy", "min",
               to_stored=lambda pct: pct / 100, label="accuracy ≥ {:g} %", maximum=100),
)  # fmt: skip

# (metric name, "max"/"min", bound in stored units, label)
Limit = tuple[str, str, float, str]


def budgets_from_query(query: QueryDict) -> Budgets:
    """Read max_latency (ms), max_energy (mJ), max_size (MB), min_accuracy (%).

    Raises:
        BadQuery: a bad number, or an accuracy in 0..1 that reads as a fraction,
            naming the page's parameter.
    """
    values = {
        b.field: params.amount(query, b.param, b.unit, maximum=b.maximum) for b in PAGE_BUDGETS
    }
    try:
        return Budgets(**values)
    except BudgetError as exc:
        messages = " ".join(exc.errors.values())
        for b in PAGE_BUDGETS:  # the page's names, not the Budgets fields
            messages = messages.replace(f"{b.field}=", f"{b.param}=")
        raise params.BadQuery(messages) from None


def budget_limits(budgets: Budgets) -> list[Limit]:
    """Each budget set, as a bound on its metric in stored units, with its label."""
    out = []
    for b in PAGE_BUDGETS:
        value = getattr(budgets, b.field)
        if value is not None:
            out.append((b.metric, b.side, b.to_stored(value), b.label.format(value)))
    return out


def budget_checker(budgets: Budgets) -> Callable[[Row], list[str]]:
    """A function giving the labels of the budgets a row misses (missing figures miss)."""
    limits = [
        (METRICS[name].field, side, bound, label)
        for name, side, bound, label in budget_limits(budgets)
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
