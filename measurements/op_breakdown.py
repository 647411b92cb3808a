"""Read a Result's operator breakdown, whichever way it was recorded: the one reader.

``Result.op_breakdown`` comes in two shapes:

* from the local driver (device_runner/drivers/child.py): ``{"method",
  "sum_ms", "by_type": {type: {"ms", "count", "share"}}, "ops": [{"index",
  "type", "mean_ms", "stable"}]}``, each operator timed alone (an operator
  of constants only, such as a float16 model's weight DEQUANTIZE, runs once
  at load: 0 ms, ``"at_load": true``);
* from an import (measurements/imports.py) or a remote driver: a flat
  ``{op type: ms}``.

``read`` takes either and never raises: what it cannot read is left out and
said in ``note``. The API's ``ms_by_op`` and the result page (which compares
two breakdowns in webapp/dashboard/analysis/breakdown.py) both read through
it. Pure Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

NOT_RECORDED = "No operator breakdown was recorded for this result."
UNREADABLE = "The stored operator breakdown is not readable."
NO_TIMING = "The stored operator breakdown holds no timing."
TYPES_ONLY = "Per-type times only (imported): no operator order."
AT_LOAD = (
    "{count} operator(s) of constants only ({types}) run once when the model loads: "
    "shown at 0 ms, not timed."
)


@dataclass(frozen=True)
class Op:
    """One operator of the graph: position, type and time alone (ms)."""

    index: int
    type: str
    ms: float | None


@dataclass
class OpBreakdown:
    """Per-type milliseconds (and counts when known), and the operators in order.

    Attributes:
        by_type: operator type -> milliseconds.
        counts: operator type -> how many operators of it (the local driver's only).
        ops: every operator in graph order (the local driver's only).
        note: what is missing or could not be read, empty when nothing is.
    """

    by_type: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    note: str = ""

    @property
    def total_ms(self) -> float:
        """Sum of the per-type times."""
        return sum(self.by_type.values())


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read(raw: Any) -> OpBreakdown:
    """A stored op_breakdown in either shape; empty, with a note, when there is none."""
    if not raw:
        return OpBreakdown(note=NOT_RECORDED)
    if not isinstance(raw, dict):
        return OpBreakdown(note=UNREADABLE)
    from_driver = isinstance(raw.get("by_type"), dict)
    out = OpBreakdown()
    for kind, entry in (raw["by_type"] if from_driver else raw).items():
        ms = entry.get("ms") if isinstance(entry, dict) else entry
        if _number(ms):
            out.by_type[str(kind)] = float(ms)
        if isinstance(entry, dict) and _number(entry.get("count")):
            out.counts[str(kind)] = int(entry["count"])
    if from_driver:
        out.ops = _ops(raw.get("ops"))
        out.note = _at_load_note(raw.get("ops")) if out.by_type else NO_TIMING
    else:
        out.note = TYPES_ONLY if out.by_type else UNREADABLE
    return out


def _ops(listed: Any) -> list[Op]:
    ops = []
    for position, op in enumerate(listed if isinstance(listed, list) else []):
        if isinstance(op, dict) and op.get("type"):
            index = op.get("index")
            ms = op.get("mean_ms")
            ops.append(
                Op(
                    index if isinstance(index, int) and not isinstance(index, bool) else position,
                    str(op["type"]),
                    float(ms) if _number(ms) else None,
                )
            )
    return ops


def _at_load_note(listed: Any) -> str:
    at_load = [op for op in listed or [] if isinstance(op, dict) and op.get("at_load")]
    if not at_load:
        return ""
    types = ", ".join(sorted({str(op.get("type")) for op in at_load}))
    return AT_LOAD.format(count=len(at_load), types=types)


def ms_by_type(raw: Any) -> dict[str, float]:
    """Milliseconds per operator type; empty when nothing readable was recorded."""
    return read(raw).by_type
