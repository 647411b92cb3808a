"""The compare table as columns: every compressed result beside its baseline, in NumPy.

A dataset's compare holds thousands of rows. Normalising them one object at
a time (speedup intervals, reductions, labels) and sorting the objects cost
most of the page's time. Here each figure is one array over every row (the
arithmetic of ``speedup.py``, element by element), a sort is one lexsort,
and only the rows a page shows become ``queries.Normalised`` objects, which
print them exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
from django.db.models import QuerySet

from measurements.results_cache import OBJECT_BYTES, memoized, size_of
from webapp.dashboard.analysis import queries, speedup
from webapp.dashboard.analysis.queries import BASELINE, ROW_FIELDS, PlanInfo, Row

# The figures each side of a comparison needs as numbers (NULL read as NaN).
FIGURES = (
    "latency_mean_ms",
    "latency_ci95_ms",
    "energy_mj",
    "accuracy",
    "artifact__file_size",
    "artifact__gzip_size",
    "artifact__macs",
    "artifact__sp_bits",
)


@dataclass
class Table:
    """Compressed results with a baseline, one array (or list) per column, aligned by row.

    Attributes:
        rows: each compressed result's ROW_FIELDS values.
        bases: each row's baseline (queries.baselines' merged row).
        plans: the plans the rows use.
        without_baseline: compressed results in scope with no baseline, left out.
        columns: pk and threads, the figures of both sides (``base_`` prefix for the
            baseline's) and what is derived from them (see ``derive``).
    """

    rows: list[tuple]
    bases: list[Row]
    plans: dict[int, PlanInfo]
    without_baseline: int = 0
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, i: int) -> Row:
        """Row ``i`` as the dict ``queries`` reads (ROW_FIELDS keys)."""
        return dict(zip(ROW_FIELDS, self.rows[i], strict=True))

    def normalised(self, i: int) -> queries.Normalised:
        """Row ``i`` beside its baseline, as the page prints it."""
        return queries.normalise(self.row(i), self.bases[i])


def load(results: QuerySet) -> Table:
    """Every compressed result of ``results`` that has a baseline, with its figures derived.

    Two queries: the baselines (few, merged figure by figure in Python) and the
    compressed results as value tuples. Kept per process until a result (or
    what results join) changes (``measurements.results_cache``): the table is
    shared, read it only.
    """
    return memoized(results, "compare table", lambda: _load(results), _weight)


def _weight(table: Table) -> int:
    # Each row: a tuple of ROW_FIELDS values; its baseline dict is shared with its plan's rows.
    return len(table.rows) * (len(ROW_FIELDS) + 1) * OBJECT_BYTES + size_of(table.columns)


def _load(results: QuerySet) -> Table:
    base = queries.baselines(results)
    found = list(results.exclude(artifact__plan__canonical=BASELINE).values_list(*ROW_FIELDS))
    key = itemgetter(*map(ROW_FIELDS.index, ("artifact__model_id", "device_id", "num_threads")))
    matched = [base.get(key(values)) for values in found]
    rows = [values for values, b in zip(found, matched, strict=True) if b is not None]
    bases = [b for b in matched if b is not None]
    left_out = len(found) - len(rows)
    plan_at = ROW_FIELDS.index("artifact__plan_id")
    table = Table(rows, bases, queries.plans({values[plan_at] for values in rows}), left_out)
    table.columns = derive(_numbers(rows, bases))
    return table


def _numbers(rows: list[tuple], bases: list[Row]) -> dict[str, np.ndarray]:
    """pk, threads and FIGURES of the rows (and ``base_`` FIGURES of their baselines) as floats.

    None becomes NaN (NumPy's float conversion of None).
    """
    columns = list(zip(*rows, strict=True)) or [()] * len(ROW_FIELDS)
    at = {name: i for i, name in enumerate(ROW_FIELDS)}
    out = {
        name: np.asarray(columns[at[name]], dtype=np.float64)
        for name in ("pk", "num_threads", *FIGURES)
    }
    for name in ("pk", *FIGURES):
        out[f"base_{name}"] = np.asarray([b[name] for b in bases], dtype=np.float64)
    return out


def derive(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The compare figures of every row, as speedup.py and queries.Normalised compute each.

    Adds ``loss``, ``sp``, ``macs``, ``energy``, ``file``, ``gzip`` (NaN where the
    row's or baseline's figure is missing), ``speedup``, ``speedup_low``,
    ``speedup_high`` (inf when unbounded), ``has_ci``, ``verdict``, ``size_verdict``
    and ``flags``.
    """
    out = dict(c)
    accuracy, base_accuracy = c["accuracy"], c["base_accuracy"]
    out["loss"] = np.where(
        _finite(accuracy, base_accuracy), (base_accuracy - accuracy) * 100, np.nan
    )
    for name, figure in (
        ("sp", "artifact__sp_bits"),
        ("macs", "artifact__macs"),
        ("energy", "energy_mj"),
        ("file", "artifact__file_size"),
        ("gzip", "artifact__gzip_size"),
        ("speedup", "latency_mean_ms"),
    ):
        out[name] = reduction(c[f"base_{figure}"], c[figure])
    out.update(_interval(c, out["speedup"]))
    out["size_verdict"] = _size_verdict(c)
    slower = out["verdict"] == speedup.SLOWER
    not_smaller = out["size_verdict"] == speedup.NOT_SMALLER
    flags = np.full(len(slower), "", dtype=object)
    flags[slower] = "slower than the baseline"
    flags[not_smaller] = "no smaller than the baseline"
    flags[slower & not_smaller] = "slower than the baseline; no smaller than the baseline"
    out["flags"] = flags
    return out


def _finite(*arrays: np.ndarray) -> np.ndarray:
    return np.logical_and.reduce([np.isfinite(a) for a in arrays])


def reduction(baseline: np.ndarray, compressed: np.ndarray) -> np.ndarray:
    """speedup.reduction element by element: baseline / compressed, NaN when it is None."""
    ok = _finite(baseline, compressed) & (compressed > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, baseline / compressed, np.nan)


def _interval(c: dict[str, np.ndarray], value: np.ndarray) -> dict[str, np.ndarray]:
    """speedup.speedup's interval and verdict, element by element."""
    b, hb = c["base_latency_mean_ms"], c["base_latency_ci95_ms"]
    m, hm = c["latency_mean_ms"], c["latency_ci95_ms"]
    has_ci = np.isfinite(value) & _finite(hb, hm)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(has_ci, np.maximum(b - hb, 0.0) / (m + hm), value)
        high = np.where(has_ci, np.where(m - hm > 0, (b + hb) / (m - hm), np.inf), value)
    verdict = np.full(len(value), None, dtype=object)
    known = np.isfinite(value)
    verdict[known] = speedup.UNCLEAR
    verdict[known & (high < 1)] = speedup.SLOWER
    verdict[known & (low > 1)] = speedup.FASTER
    return {"speedup_low": low, "speedup_high": high, "has_ci": has_ci, "verdict": verdict}


def _size_verdict(c: dict[str, np.ndarray]) -> np.ndarray:
    """speedup.size_verdict element by element."""
    file, base_file = c["artifact__file_size"], c["base_artifact__file_size"]
    gzip, base_gzip = c["artifact__gzip_size"], c["base_artifact__gzip_size"]
    known = _finite(file, base_file)
    verdict = np.full(len(file), None, dtype=object)
    verdict[known] = speedup.NOT_SMALLER
    verdict[known & _finite(gzip, base_gzip) & (gzip < base_gzip)] = speedup.GZIP_ONLY
    verdict[known & (file < base_file)] = speedup.SMALLER
    return verdict


# sort key -> the column it sorts by; "model", "plan" and "device" sort by name.
SORT_COLUMNS = {
    "threads": "num_threads",
    "accuracy": "accuracy",
    "loss": "loss",
    "sp": "sp",
    "macs": "macs",
    "speedup": "speedup",
    "energy": "energy",
    "file": "file",
    "gzip": "gzip",
}


def order(table: Table, texts: dict[str, list[str]], key: str, descending: bool) -> np.ndarray:
    """Row positions sorted by ``key``: missing values last either way, ties by result id.

    Args:
        table: the rows.
        texts: the names a text key sorts by ("model", "plan", "device"), one per row.
        key: a sort key (SORT_COLUMNS or texts).
        descending: largest (or Z) first.
    """
    pk = table.columns["pk"]
    if key in texts:  # every row has a name
        names = texts[key]
        by_id = sorted(range(len(names)), key=pk.__getitem__)
        return np.array(sorted(by_id, key=names.__getitem__, reverse=descending), dtype=np.int64)
    values = table.columns[SORT_COLUMNS[key]]
    known = np.flatnonzero(~np.isnan(values))  # NaN: None in the objects' sort
    missing = np.flatnonzero(np.isnan(values))
    signed = -values[known] if descending else values[known]
    return np.concatenate(
        [known[np.lexsort((pk[known], signed))], missing[np.argsort(pk[missing])]]
    )
