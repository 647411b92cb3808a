"""Where a result's operator time went against its baseline's.

The breakdowns are read by ``measurements.op_breakdown.read`` (the one reader
of both stored shapes); here ``diff_types`` compares per type and
``diff_ops`` aligns the two operator sequences with
``difflib.SequenceMatcher`` on their types, so an operator a compression
added, removed or replaced shows as such. Pure Python: no Django import.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from measurements.op_breakdown import Op, OpBreakdown
from webapp.dashboard.analysis import units


def show_ms(value: float | None, signed: bool = False) -> str:
    """Milliseconds to four decimals (operators are fast), signed for changes."""
    if not units.finite(value):
        return units.MISSING
    return f"{value:+.4f} ms" if signed else f"{value:.4f} ms"


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


def diff_types(result: OpBreakdown, baseline: OpBreakdown) -> list[TypeDiff]:
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

    @property
    def baseline_ms_text(self) -> str:
        """The baseline operator's time as the page prints it."""
        return show_ms(self.baseline.ms if self.baseline else None)

    @property
    def result_ms_text(self) -> str:
        """The result operator's time as the page prints it."""
        return show_ms(self.result.ms if self.result else None)


def diff_ops(result: OpBreakdown, baseline: OpBreakdown) -> list[OpDiff]:
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
