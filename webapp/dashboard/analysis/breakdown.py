"""Operator timings of a result, and where the time went against the baseline.

``Result.op_breakdown`` comes in two shapes:

* from the local driver (device_runner/drivers/child.py): ``{"method",
  "sum_ms", "by_type": {type: {"ms", "count", "share"}}, "ops": [{"index",
  "type", "mean_ms", "stable"}]}``, each operator timed alone;
* from an import (measurements/imports.py): a flat ``{op type: ms}``.

``parse`` reads either (anything else is reported as unreadable, never
raised), ``diff_types`` compares per type and ``diff_ops`` aligns the two
operator sequences with ``difflib.SequenceMatcher`` on their types, so an
operator a compression added, removed or replaced shows as such.
Pure Python: no Django import.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from webapp.dashboard.analysis import units


@dataclass(frozen=True)
class Op:
    """One operator of the graph: position, type and time alone (ms)."""

    index: int
    type: str
    ms: float | None

    @property
    def ms_text(self) -> str:
        """The time as the page prints it."""
        return show_ms(self.ms)


def show_ms(value: float | None, signed: bool = False) -> str:
    """Milliseconds to four decimals (operators are fast), signed for changes."""
    if not units.finite(value):
        return units.MISSING
    return f"{value:+.4f} ms" if signed else f"{value:.4f} ms"


@dataclass
class Breakdown:
    """Per-type milliseconds (and counts when known), and the operators in order."""

    by_type: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    note: str = ""

    @property
    def total_ms(self) -> float:
        """Sum of the per-type times."""
        return sum(self.by_type.values())


def parse(raw: Any) -> Breakdown:
    """Read a stored op_breakdown; an empty Breakdown with a note when there is none."""
    if not raw:
        return Breakdown(note="No operator breakdown was recorded for this result.")
    if not isinstance(raw, dict):
        return Breakdown(note="The stored operator breakdown is not readable.")
    if isinstance(raw.get("by_type"), dict):
        return _from_driver(raw)
    by_type = {str(k): float(v) for k, v in raw.items() if units.finite(v)}
    if not by_type:
        return Breakdown(note="The stored operator breakdown is not readable.")
    return Breakdown(by_type=by_type, note="Per-type times only (imported): no operator order.")


def _from_driver(raw: dict[str, Any]) -> Breakdown:
    out = Breakdown()
    for kind, entry in raw["by_type"].items():
        ms = entry.get("ms") if isinstance(entry, dict) else entry
        if units.finite(ms):
            out.by_type[str(kind)] = float(ms)
        if isinstance(entry, dict) and units.finite(entry.get("count")):
            out.counts[str(kind)] = int(entry["count"])
    for position, op in enumerate(raw.get("ops") or []):
        if isinstance(op, dict) and op.get("type"):
            ms = op.get("mean_ms")
            index = op.get("index", position)
            out.ops.append(Op(int(index), str(op["type"]), float(ms) if units.finite(ms) else None))
    if not out.by_type:
        out.note = "The stored operator breakdown holds no timing."
    return out


@dataclass(frozen=True)
class TypeDiff:
    """One operator type: time in the result and in the baseline, and the change (ms)."""

    type: str
    ms: float | None
    baseline_ms: float | None
    count: int | None
    baseline_count: int | None

    @property
    def delta_ms(self) -> float:
        """Compressed minus baseline; an absent type counts as 0 ms."""
        return (self.ms or 0.0) - (self.baseline_ms or 0.0)

    @property
    def text(self) -> dict[str, str]:
        """The row as the page prints it."""
        return {
            "ms": show_ms(self.ms) if self.ms is not None else "absent",
            "baseline": show_ms(self.baseline_ms) if self.baseline_ms is not None else "absent",
            "delta": show_ms(self.delta_ms, signed=True),
            "count": units.count(self.count),
            "baseline_count": units.count(self.baseline_count),
        }


def diff_types(result: Breakdown, baseline: Breakdown) -> list[TypeDiff]:
    """Every type in either breakdown, largest absolute change first."""
    kinds = set(result.by_type) | set(baseline.by_type)
    rows = [
        TypeDiff(
            k,
            result.by_type.get(k),
            baseline.by_type.get(k),
            result.counts.get(k),
            baseline.counts.get(k),
        )
        for k in kinds
    ]
    return sorted(rows, key=lambda r: (-abs(r.delta_ms), r.type))


@dataclass(frozen=True)
class OpDiff:
    """One aligned row: a baseline operator, a result operator, or both."""

    status: str  # "same type", "added", "removed"
    baseline: Op | None
    result: Op | None

    @property
    def delta_ms(self) -> float | None:
        """Result minus baseline time (ms); None when either time is missing."""
        after = self.result.ms if self.result else 0.0
        before = self.baseline.ms if self.baseline else 0.0
        return None if after is None or before is None else after - before

    @property
    def delta_text(self) -> str:
        """The change, signed, in ms."""
        return show_ms(self.delta_ms, signed=True)


def diff_ops(result: Breakdown, baseline: Breakdown) -> list[OpDiff]:
    """The two operator sequences aligned by type (empty when either has no order)."""
    if not (result.ops and baseline.ops):
        return []
    before, after = baseline.ops, result.ops
    matcher = difflib.SequenceMatcher(
        a=[o.type for o in before], b=[o.type for o in after], autojunk=False
    )
    rows: list[OpDiff] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [
                OpDiff("same type", a, b) for a, b in zip(before[i1:i2], after[j1:j2], strict=True)
            ]
            continue
        rows += [OpDiff("removed", a, None) for a in before[i1:i2]]
        rows += [OpDiff("added", None, b) for b in after[j1:j2]]
    return rows
