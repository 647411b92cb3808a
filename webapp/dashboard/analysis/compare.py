"""The compare page: compressed results normalised to their baseline, sortable, as CSV.

Rows follow seed 004 tables 5 to 7: accuracy loss in points and the "x"
reductions of Sp, MACs, latency and energy over the uncompressed model on
the same device and thread count, plus the real-speedup check (speedup with
its conservative interval, file and gzip reductions, a flag when the
compression made the model slower or no smaller).

The figures of every row are computed as arrays (``compare_table``); only
the rows of the shown page become objects, and the CSV is written column by
column (``compare_csv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from django.http import QueryDict

from measurements.results_cache import memoized
from webapp.dashboard.analysis import compare_csv, compare_table, params, queries, scope
from webapp.dashboard.analysis.queries import Normalised, PlanInfo

PAGE_SIZE = 100


@dataclass(frozen=True)
class CompareRow:
    """One compressed result beside its baseline, with names resolved."""

    norm: Normalised
    plan: PlanInfo
    model: str
    device: str

    @property
    def pk(self) -> int:
        """The compressed result's id."""
        return self.norm.row["pk"]

    @property
    def source(self) -> str:
        """How the compressed result's figures were obtained (measured, imported (label))."""
        return queries.figures_source(self.norm.row)

    @property
    def threads(self) -> int:
        """Interpreter threads of both results."""
        return self.norm.row["num_threads"]


# sort key -> column heading
SORTS: dict[str, str] = {
    "model": "Model",
    "plan": "Plan",
    "device": "Device",
    "threads": "Threads",
    "accuracy": "Accuracy",
    "loss": "A loss",
    "sp": "Sp ×",
    "macs": "MACs ×",
    "speedup": "T × [interval]",
    "energy": "E ×",
    "file": "File ×",
    "gzip": "Gzip ×",
}

TEXT_SORTS = ("model", "plan", "device")


@dataclass
class Compare:
    """What the compare page shows: one page of sorted rows and what was left out.

    Attributes:
        table: every compressed result with a baseline, as columns.
        names: per row of ``table``, its model, plan and device names.
        order: the rows' positions in ``table``, sorted.
    """

    scope: scope.Scope
    sort: str
    descending: bool
    table: compare_table.Table | None = None
    names: dict[str, list[str]] = field(default_factory=dict)
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    total: int = 0
    without_baseline: int = 0
    page: int = 1

    @property
    def pages(self) -> int:
        """How many pages of PAGE_SIZE rows."""
        return max(1, -(-self.total // PAGE_SIZE))

    def headers(self) -> list[tuple[str, str, str]]:
        """(heading, the ?sort= a click asks for, the arrow shown) per sortable column.

        A first click sorts names A to Z and figures largest first; a second click reverses.
        """
        out = []
        for key, heading in SORTS.items():
            if key == self.sort:
                click = key if self.descending else f"-{key}"
                arrow = "▼" if self.descending else "▲"
            else:
                click, arrow = (key if key in TEXT_SORTS else f"-{key}"), ""
            out.append((heading, click, arrow))
        return out

    @cached_property
    def shown(self) -> list[CompareRow]:
        """The rows of the current page, each beside its baseline."""
        start = (self.page - 1) * PAGE_SIZE
        return [self.row(int(i)) for i in self.order[start : start + PAGE_SIZE]]

    def row(self, i: int) -> CompareRow:
        """Row ``i`` of the table (a position in ``table``, not in the sorted order)."""
        table = self.table
        norm = table.normalised(i)
        plan = table.plans[norm.row["artifact__plan_id"]]
        return CompareRow(norm, plan, self.names["model"][i], self.names["device"][i])


def build(query: QueryDict) -> Compare:
    """Every compressed result in scope normalised to its baseline, sorted.

    Raises:
        BadQuery: a malformed id, thread count, sort key or page.
    """
    key, descending = params.sort_key(query, tuple(SORTS), "-speedup")
    page = Compare(scope=scope.resolve(query), sort=key, descending=descending)
    page.page = params.page_number(query)
    page.table = compare_table.load(page.scope.results())
    page.without_baseline = page.table.without_baseline
    page.names = names(page.table, page.scope)
    page.order = compare_table.order(page.table, page.names, key, descending)
    page.total = len(page.table)
    page.page = min(page.page, page.pages)
    return page


def names(table: compare_table.Table, in_scope: scope.Scope) -> dict[str, list[str]]:
    """The model, plan and device name of each row of ``table``."""
    at = {name: queries.ROW_FIELDS.index(name) for name in queries.ROW_FIELDS}
    models, devices = in_scope.model_names, in_scope.device_names
    plans = {pk: plan.canonical for pk, plan in table.plans.items()}
    rows = table.rows
    return {
        "model": [models[row[at["artifact__model_id"]]] for row in rows],
        "plan": [plans[row[at["artifact__plan_id"]]] for row in rows],
        "device": [devices[row[at["device_id"]]] for row in rows],
    }


def csv_text(page: Compare) -> str:
    """Every row (not only the shown page), in the page's order, as CSV.

    Kept per process with the table, until a result (or what results join,
    names included) changes: writing 25,000 rows' cells takes most of the download.
    """
    tag = ("compare csv", page.sort, page.descending)
    return memoized(page.scope.results(), tag, lambda: _csv_text(page), len)


def _csv_text(page: Compare) -> str:
    return compare_csv.csv_text(page.table, page.names, page.order)


def records_columns() -> tuple[str, ...]:
    """The CSV's columns, in order (also when there is no row)."""
    return compare_csv.COLUMNS
