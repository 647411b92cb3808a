"""Where the new-jobs form's plans come from: the standard sweep and the typed box.

Parsing and counting live in ``measurements.actions.queueing`` (``parse_plans``,
``plan_jobs``), shared with the API and the queue; they are re-exported here for the form.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from measurements.actions.queueing import ParsedPlan, Preview, parse_plans, plan_jobs

__all__ = [
    "ParsedPlan",
    "Preview",
    "inapplicable",
    "parse_plans",
    "plan_jobs",
    "sweep_texts",
    "sweep_texts_for",
    "typed_lines",
]


@cache
def sweep_texts(model_format: str = "keras") -> tuple[str, ...]:
    """The standard sweep's plans for one model format, computed once per process per format.

    (It imports the registry.)
    """
    from measurements.actions import standard_sweep_texts

    return tuple(standard_sweep_texts(model_format))


def sweep_texts_for(formats: Iterable[str]) -> tuple[str, ...]:
    """The sweep plans every one of ``formats`` can take, so mixed models queue one sweep."""
    per_format = [sweep_texts(f) for f in sorted(set(formats)) or ["keras"]]
    shared = set.intersection(*(set(texts) for texts in per_format))
    return tuple(text for text in per_format[0] if text in shared)


def typed_lines(text: str) -> list[tuple[str, str]]:
    """Non-empty, non-comment lines of the typed plans box as ``("line N", text)``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            found.append((f"line {number}", stripped))
    return found


def inapplicable(models: Iterable[Any], plans: Iterable[ParsedPlan]) -> list[str]:
    """One message per model that a technique in ``plans`` cannot compress (by its format)."""
    from compression.plan import Plan
    from measurements.actions.model_formats import refuse_inapplicable

    codes = sorted({step.code for p in plans for step in Plan.parse(p.canonical).steps})
    errors = []
    for model in models:
        try:
            refuse_inapplicable(model, codes)
        except ValueError as exc:
            errors.append(str(exc))
    return errors
