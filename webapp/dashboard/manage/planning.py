"""Where the new-jobs form's plans come from: the standard sweep and the typed box.

Parsing and counting live in ``measurements.actions.queueing`` (``parse_plans``,
``plan_jobs``), shared with the API and the queue; they are re-exported here for the form.
"""

from __future__ import annotations

from functools import cache

from measurements.actions.queueing import ParsedPlan, Preview, parse_plans, plan_jobs

__all__ = ["ParsedPlan", "Preview", "parse_plans", "plan_jobs", "sweep_texts", "typed_lines"]


@cache
def sweep_texts() -> tuple[str, ...]:
    """The standard sweep's plans, computed once per process (it imports the registry)."""
    from measurements.actions import standard_sweep_texts

    return tuple(standard_sweep_texts())


def typed_lines(text: str) -> list[tuple[str, str]]:
    """Non-empty, non-comment lines of the typed plans box as ``("line N", text)``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            found.append((f"line {number}", stripped))
    return found
