"""A candidate table as CSV, so measured tables can be kept and searched again offline.

One row per plan: its figures (accuracy percent, energy mJ, latency ms,
storage and weights MB, MACs) and where each came from (``<figure>_source``:
measured, host-evaluated, static, estimated or predicted). An empty cell is
an unknown figure. benchmarks/selector.py writes these; the strategy
benchmark reads them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from compression.selection.candidates import FIGURES, Candidate

COLUMNS = ("plan", *FIGURES, "macs", *(f"{name}_source" for name in FIGURES))


def save_table(candidates: Sequence[Candidate], path: str | Path) -> Path:
    """Write the candidates to ``path`` (parents created), one row per plan."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        for c in candidates:
            row = {"plan": c.plan, "macs": "" if c.macs is None else repr(c.macs)}
            for name in FIGURES:
                value = getattr(c, name)
                row[name] = "" if value is None else repr(float(value))
                row[f"{name}_source"] = c.sources.get(name, "")
            writer.writerow(row)
    return path


def load_table(path: str | Path) -> list[Candidate]:
    """Read a table written by ``save_table``.

    Raises:
        ValueError: a missing column, a repeated plan, or a cell that is not a
            finite number or a known provenance, naming the row and column.
    """
    path = Path(path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("plan", *FIGURES) if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"The table lacks column(s) {', '.join(missing)}. Received: "
                f"columns={reader.fieldnames} in {path}"
            )
        candidates = [_candidate(row, number, path) for number, row in enumerate(reader, 2)]
    plans = [c.plan for c in candidates]
    repeated = sorted({p for p in plans if plans.count(p) > 1})
    if repeated:
        raise ValueError(f"A plan appears twice in the table. Received: {repeated} in {path}")
    return candidates


def _candidate(row: dict[str, str], line: int, path: Path) -> Candidate:
    values = {name: _number(row, name, line, path) for name in (*FIGURES, "macs")}
    sources = {
        name: row[f"{name}_source"] for name in FIGURES if row.get(f"{name}_source", "").strip()
    }
    try:
        return Candidate(plan=row["plan"].strip(), sources=sources, **values)
    except ValueError as error:
        raise ValueError(f"{error} (line {line} of {path})") from None


def _number(row: dict[str, str], name: str, line: int, path: Path) -> float | None:
    text = (row.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f"{name} must be a finite number or empty. Received: {name}={text!r} "
            f"(line {line} of {path})"
        )
    return value
