"""The compare table as CSV, written column by column with units in the column names.

The text is what pandas' ``to_csv(index=False, float_format="%.6g")`` wrote
for the same records: counts as integers, figures and ratios to six
significant digits (more than any measured figure here is known to), empty
cells for missing figures, ``inf`` for an unbounded speedup, and formula-like
names escaped. Each cell is formatted (and quoted, where the csv module
would quote it) once per distinct value of its column, a model's sizes
repeating on every device and thread count, and the lines are joined in one
call: pandas formatted each float through Python calls of its own, and the
csv module checks every cell for quoting, most of the download's time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from webapp.api.export import escape_formula
from webapp.dashboard.analysis import queries
from webapp.dashboard.analysis.compare_table import Table
from webapp.dashboard.analysis.queries import ROW_FIELDS

COLUMNS = (
    "result_id", "baseline_result_id", "model", "plan", "category", "device", "threads",
    "accuracy_pct", "baseline_accuracy_pct", "accuracy_loss_points", "sp_reduction_x",
    "macs_reduction_x", "latency_mean_ms", "latency_ci95_ms", "baseline_latency_mean_ms",
    "baseline_latency_ci95_ms", "speedup_x", "speedup_low_x", "speedup_high_x",
    "latency_verdict", "energy_mj", "energy_method", "baseline_energy_mj",
    "energy_reduction_x", "file_size_bytes", "gzip_size_bytes", "file_size_reduction_x",
    "gzip_size_reduction_x", "size_verdict", "flags", "figures_source",
    "baseline_figures_source",
)  # fmt: skip

# CSV column -> the table column written to six significant digits.
FIGURES = {
    "accuracy_pct": "accuracy_pct",
    "baseline_accuracy_pct": "base_accuracy_pct",
    "accuracy_loss_points": "loss",
    "sp_reduction_x": "sp",
    "macs_reduction_x": "macs",
    "latency_mean_ms": "latency_mean_ms",
    "latency_ci95_ms": "latency_ci95_ms",
    "baseline_latency_mean_ms": "base_latency_mean_ms",
    "baseline_latency_ci95_ms": "base_latency_ci95_ms",
    "speedup_x": "speedup",
    "speedup_low_x": "speedup_low_ci",
    "speedup_high_x": "speedup_high_ci",
    "energy_mj": "energy_mj",
    "baseline_energy_mj": "base_energy_mj",
    "energy_reduction_x": "energy",
    "file_size_reduction_x": "file",
    "gzip_size_reduction_x": "gzip",
}


TEXT = ("model", "plan", "category", "device", "latency_verdict", "energy_method")
TEXT += ("size_verdict", "flags", "figures_source", "baseline_figures_source")


def csv_text(table: Table | None, names: dict[str, list[str]], order: np.ndarray) -> str:
    """The rows at positions ``order`` of ``table``, header first."""
    header = ",".join(quoted(COLUMNS)) + "\n"
    if table is None or not len(order):
        return header
    cells = columns(table, names, order)
    for name in TEXT:
        cells[name] = quoted(cells[name])
    lines = zip(*(cells[name] for name in COLUMNS), strict=True)
    return header + "\n".join(map(",".join, lines)) + "\n"


def quoted(values: Sequence[str]) -> list[str]:
    """Each text as the csv module writes it in a row (quoted only when it must be)."""
    done = {"": ""}  # a lone empty field would come back as '""'
    for value in set(values) - done.keys():
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([value])
        done[value] = out.getvalue()[:-1]
    return [done[value] for value in values]


def columns(table: Table, names: dict[str, list[str]], order: np.ndarray) -> dict[str, list]:
    """Each CSV column's cells for the rows at ``order``."""
    c = _figures(table.columns)
    positions = order.tolist()
    rows = [table.rows[i] for i in positions]
    bases = [table.bases[i] for i in positions]
    at = {name: i for i, name in enumerate(ROW_FIELDS)}
    out: dict[str, list] = {name: six_digits(c[column][order]) for name, column in FIGURES.items()}
    out.update(
        result_id=_integers([row[at["pk"]] for row in rows]),
        baseline_result_id=_integers([base["pk"] for base in bases]),
        threads=_integers([row[at["num_threads"]] for row in rows]),
        file_size_bytes=_integers([row[at["artifact__file_size"]] for row in rows]),
        gzip_size_bytes=_integers([row[at["artifact__gzip_size"]] for row in rows]),
        category=[table.plans[row[at["artifact__plan_id"]]].group for row in rows],
        latency_verdict=_blank_none(c["verdict"][order].tolist()),
        size_verdict=_blank_none(c["size_verdict"][order].tolist()),
        flags=c["flags"][order].tolist(),
    )
    read = itemgetter(*(at[name] for name in LABEL_FIELDS))
    energy, source = _labels(list(map(read, rows)), np.isfinite(c["energy_mj"][order]))
    out.update(energy_method=energy, figures_source=_escaped(source))
    read_base = itemgetter(*LABEL_FIELDS)
    has_energy = np.isfinite(c["base_energy_mj"][order])
    out["baseline_figures_source"] = _escaped(_labels(list(map(read_base, bases)), has_energy)[1])
    for name in ("model", "plan", "device"):
        out[name] = _escaped([names[name][i] for i in positions])
    return out


def _figures(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The table's columns plus the CSV's own: percentages and the interval where a CI exists."""
    out = dict(c)
    for side in ("", "base_"):
        accuracy = c[f"{side}accuracy"]
        out[f"{side}accuracy_pct"] = np.where(np.isfinite(accuracy), accuracy * 100, np.nan)
    out["speedup_low_ci"] = np.where(c["has_ci"], c["speedup_low"], np.nan)
    out["speedup_high_ci"] = np.where(c["has_ci"], c["speedup_high"], np.nan)  # inf: unbounded
    return out


def six_digits(values: np.ndarray) -> list[str]:
    """Each value as ``"%.6g"`` writes it; NaN (a missing figure) as an empty cell."""
    distinct, inverse = np.unique(values, return_inverse=True)  # sorted, NaNs last as one
    known = distinct[~np.isnan(distinct)]
    texts = np.array([*map("%.6g".__mod__, known.tolist()), ""], dtype=object)
    cells = texts[np.minimum(inverse.reshape(-1), len(known))]
    cells[(values == 0) & np.signbit(values)] = "-0"  # unique() merged -0.0 into 0.0
    return cells.tolist()


def _blank_none(values: list[Any]) -> list[Any]:
    return ["" if v is None else v for v in values]


def _integers(values: list[int | None]) -> list[str]:
    return ["" if v is None else str(v) for v in values]


def _escaped(values: list[str]) -> list[str]:
    done = {value: escape_formula(value) for value in set(values)}
    return [done[value] for value in values]


# What queries.energy_label and queries.figures_source read from a row.
LABEL_FIELDS = ("source", "source_label", "energy_measured", "energy_method")


def _labels(rows: list[tuple], has_energy: np.ndarray) -> tuple[list[str], list[str]]:
    """Each row's energy label and figures source (rows of LABEL_FIELDS values).

    Computed once per distinct combination of what they read: of the energy
    figure, only whether it exists (``has_energy``) matters.
    """
    done: dict[tuple, tuple[str, str]] = {}
    out = []
    for key in zip(rows, has_energy.tolist(), strict=True):
        labels = done.get(key)
        if labels is None:
            row = dict(zip(LABEL_FIELDS, key[0], strict=True))
            row["energy_mj"] = 1.0 if key[1] else None  # a stand-in: only its presence is read
            labels = done[key] = (queries.energy_label(row), queries.figures_source(row))
        out.append(labels)
    return [energy for energy, _ in out], [source for _, source in out]
