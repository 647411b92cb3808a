"""Read a Result's operator breakdown, whichever way it was recorded.

``Result.op_breakdown`` holds either what the local driver measures
(``{"method", "sum_ms", "by_type": {type: {"ms", "count", "share"}}, "ops": […]}``)
or a flat ``{op type: ms}`` from an import or a remote driver. Pure Python.
"""

from __future__ import annotations

import math
from typing import Any


def ms_by_type(raw: Any) -> dict[str, float]:
    """Milliseconds per operator type; empty when nothing readable was recorded."""
    if not isinstance(raw, dict):
        return {}
    source = raw["by_type"] if isinstance(raw.get("by_type"), dict) else raw
    times = {}
    for kind, entry in source.items():
        ms = entry.get("ms") if isinstance(entry, dict) else entry
        if isinstance(ms, int | float) and not isinstance(ms, bool) and math.isfinite(ms):
            times[str(kind)] = float(ms)
    return times
