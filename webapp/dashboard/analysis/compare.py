"""The compare page: compressed results normalised to their baseline, sortable, as CSV.

Rows follow seed 004 tables 5 to 7: accuracy loss in points and the "x"
reductions of Sp, MACs, latency and energy over the uncompressed model on
the same device and thread count, plus the real-speedup check (speedup with
its conservative interval, file and gzip reductions, a flag when the
compression made the model slower or no smaller).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from webapp.api.export import escape_formula
from webapp.dashboard.analysis import params, queries, scope, speedup, units
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


# sort key -> (column heading, value of a row)
SORTS: dict[str, tuple[str, Callable[[CompareRow], Any]]] = {
    "model": ("Model", lambda r: r.model),
    "plan": ("Plan", lambda r: r.plan.canonical),
    "device": ("Device", lambda r: r.device),
    "threads": ("Threads", lambda r: r.threads),
    "accuracy": ("Accuracy", lambda r: r.norm.row["accuracy"]),
    "loss": ("A loss", lambda r: r.norm.accuracy_loss),
    "sp": ("Sp ×", lambda r: r.norm.sp),
    "macs": ("MACs ×", lambda r: r.norm.macs),
    "speedup": ("T × [interval]", lambda r: r.norm.latency.value if r.norm.latency else None),
    "energy": ("E ×", lambda r: r.norm.energy),
    "file": ("File ×", lambda r: r.norm.file),
    "gzip": ("Gzip ×", lambda r: r.norm.gzip),
}

TEXT_SORTS = ("model", "plan", "device")


@dataclass
class Compare:
    """What the compare page shows: one page of sorted rows and what was left out."""

    scope: scope.Scope
    sort: str
    descending: bool
    rows: list[CompareRow] = field(default_factory=list)
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
        for key, (heading, _) in SORTS.items():
            if key == self.sort:
                click = key if self.descending else f"-{key}"
                arrow = "▼" if self.descending else "▲"
            else:
                click, arrow = (key if key in TEXT_SORTS else f"-{key}"), ""
            out.append((heading, click, arrow))
        return out

    @property
    def shown(self) -> list[CompareRow]:
        """The rows of the current page."""
        start = (self.page - 1) * PAGE_SIZE
        return self.rows[start : start + PAGE_SIZE]


def build(query: QueryDict) -> Compare:
    """Every compressed result in scope normalised to its baseline, sorted.

    Raises:
        BadQuery: a malformed id, thread count, sort key or page.
    """
    key, descending = params.sort_key(query, tuple(SORTS), "-speedup")
    page = Compare(scope=scope.resolve(query), sort=key, descending=descending)
    page.page = params.page_number(query)
    found, page.without_baseline, info = queries.normalised(page.scope.results())
    models, devices = page.scope.model_names, page.scope.device_names
    rows = [
        CompareRow(
            n,
            info[n.row["artifact__plan_id"]],
            models[n.row["artifact__model_id"]],
            devices[n.row["device_id"]],
        )
        for n in found
    ]
    page.rows = sort(rows, key, descending)
    page.total = len(rows)
    page.page = min(page.page, page.pages)
    return page


def sort(rows: list[CompareRow], key: str, descending: bool) -> list[CompareRow]:
    """Rows by SORTS[key], missing values last in either direction, ties by result id."""
    value = SORTS[key][1]
    known = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    known.sort(key=lambda r: r.pk)
    known.sort(key=value, reverse=descending)
    return known + sorted(missing, key=lambda r: r.pk)


def records(page: Compare) -> list[dict[str, Any]]:
    """Every row (not only the shown page) as flat records with units in the column names."""
    out = []
    for r in page.rows:
        n, row, base = r.norm, r.norm.row, r.norm.base
        interval = n.latency
        out.append(
            {
                "result_id": r.pk,
                "baseline_result_id": base["pk"],
                "model": r.model,
                "plan": r.plan.canonical,
                "category": r.plan.group,
                "device": r.device,
                "threads": r.threads,
                "accuracy_pct": _pct(row["accuracy"]),
                "baseline_accuracy_pct": _pct(base["accuracy"]),
                "accuracy_loss_points": n.accuracy_loss,
                "sp_reduction_x": n.sp,
                "macs_reduction_x": n.macs,
                "latency_mean_ms": row["latency_mean_ms"],
                "latency_ci95_ms": row["latency_ci95_ms"],
                "baseline_latency_mean_ms": base["latency_mean_ms"],
                "baseline_latency_ci95_ms": base["latency_ci95_ms"],
                "speedup_x": interval.value if interval else None,
                "speedup_low_x": interval.low if interval and interval.has_ci else None,
                "speedup_high_x": _high(interval),
                "latency_verdict": interval.verdict if interval else None,
                "energy_mj": row["energy_mj"],
                "energy_method": queries.energy_label(row),
                "baseline_energy_mj": base["energy_mj"],
                "energy_reduction_x": n.energy,
                "file_size_bytes": row["artifact__file_size"],
                "gzip_size_bytes": row["artifact__gzip_size"],
                "file_size_reduction_x": n.file,
                "gzip_size_reduction_x": n.gzip,
                "size_verdict": n.size_verdict,
                "flags": "; ".join(n.flags),
                "figures_source": queries.figures_source(row),
                "baseline_figures_source": queries.figures_source(base),
            }
        )
    return out


def _high(interval: speedup.Interval | None) -> float | None:
    # An unbounded upper limit (the compressed CI reaches 0 ms) is written as inf.
    if interval is None or not interval.has_ci:
        return None
    return math.inf if interval.high is None else interval.high


def _pct(value: Any) -> float | None:
    return value * 100 if units.finite(value) else None


def csv_text(page: Compare) -> str:
    """The records as CSV (pandas), empty cells for missing figures."""
    import pandas as pd  # imported here: only the CSV download needs it

    frame = pd.DataFrame.from_records(records(page), columns=list(records_columns()))
    # Counts stay integers even with gaps; ratios and figures keep 6 significant digits,
    # more than any measured figure here is known to.
    frame = frame.astype(dict.fromkeys(INTEGER_COLUMNS, "Int64"))
    for column in TEXT_COLUMNS:  # a model or plan name a spreadsheet would run as a formula
        frame[column] = frame[column].map(escape_formula)
    return frame.to_csv(index=False, float_format="%.6g")


TEXT_COLUMNS = ("model", "plan", "device", "figures_source", "baseline_figures_source")


INTEGER_COLUMNS = (
    "result_id",
    "baseline_result_id",
    "threads",
    "file_size_bytes",
    "gzip_size_bytes",
)


def records_columns() -> tuple[str, ...]:
    """The CSV's columns, in order (also when there is no row)."""
    return (
        "result_id", "baseline_result_id", "model", "plan", "category", "device", "threads",
        "accuracy_pct", "baseline_accuracy_pct", "accuracy_loss_points", "sp_reduction_x",
        "macs_reduction_x", "latency_mean_ms", "latency_ci95_ms", "baseline_latency_mean_ms",
        "baseline_latency_ci95_ms", "speedup_x", "speedup_low_x", "speedup_high_x",
        "latency_verdict", "energy_mj", "energy_method", "baseline_energy_mj",
        "energy_reduction_x", "file_size_bytes", "gzip_size_bytes", "file_size_reduction_x",
        "gzip_size_reduction_x", "size_verdict", "flags", "figures_source",
        "baseline_figures_source",
    )  # fmt: skip
