"""What a new-jobs request will queue: its plans parsed once, and the exact job count.

The count mirrors ``measurements.actions.queue_jobs``: one job per model x plan x
device x thread count, where a combination that already has a job which is not
failed or cancelled is skipped. Plans are compared by their canonical text's
SHA-256, the key the Plan table is unique on, so ``W3`` and ``W3(s=0.5)`` (its
default) are one plan.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from measurements.models import Device, DNNModel, Job

# Statuses that do not block queueing the same combination again (queue_jobs' rule).
REQUEUABLE = (Job.Status.FAILED, Job.Status.CANCELLED)


@dataclass(frozen=True)
class ParsedPlan:
    """A plan as the user will see it queued.

    Attributes:
        canonical: the plan's canonical text (what ``queue_jobs`` receives).
        sha256: the key of its Plan row.
        source: where it came from ("standard sweep", "catalogue", "line 3").
    """

    canonical: str
    sha256: str
    source: str


@dataclass(frozen=True)
class Preview:
    """How many jobs a request makes.

    Attributes:
        combinations: distinct model x plan x device x thread combinations.
        new: jobs that submitting would queue now.
        skipped: combinations already queued, running or done.
    """

    combinations: int
    new: int
    skipped: int


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


def parse_plans(sources: Iterable[tuple[str, str]]) -> tuple[list[ParsedPlan], list[str]]:
    """Parse ``(source, text)`` pairs, dropping repeats of a plan already seen.

    Returns:
        The distinct plans in order, and one error message per plan that does
        not parse, each naming the plan and where it came from.
    """
    from compression.plan import Plan

    plans: list[ParsedPlan] = []
    seen: set[str] = set()
    errors: list[str] = []
    for source, text in sources:
        try:
            plan = Plan.parse(text)
        except ValueError as exc:  # PlanSyntaxError, UnknownTechniqueError, bad parameters
            errors.append(f"{source.capitalize()}, plan {text!r}: {exc}")
            continue
        key = plan.sha256()
        if key not in seen:
            seen.add(key)
            plans.append(ParsedPlan(plan.canonical(), key, source))
    return plans, errors


def typed_lines(text: str) -> list[tuple[str, str]]:
    """Non-empty, non-comment lines of the typed plans box as ``("line N", text)``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            found.append((f"line {number}", stripped))
    return found


def preview(
    models: Sequence[DNNModel],
    plans: Sequence[ParsedPlan],
    devices: Sequence[Device],
    threads: Sequence[int],
) -> Preview:
    """Count the jobs ``queue_jobs`` would create for this request, without creating any."""
    wanted = set(
        itertools.product(
            {m.pk for m in models}, {p.sha256 for p in plans}, {d.pk for d in devices}, set(threads)
        )
    )
    if not wanted:
        return Preview(0, 0, 0)
    existing = (
        Job.objects.filter(
            artifact__model__in=[m.pk for m in models],
            artifact__plan__sha256__in=[p.sha256 for p in plans],
            device__in=[d.pk for d in devices],
            num_threads__in=list(threads),
        )
        .exclude(status__in=REQUEUABLE)
        .values_list("artifact__model_id", "artifact__plan__sha256", "device_id", "num_threads")
    )
    skipped = len(wanted & set(existing))
    return Preview(len(wanted), len(wanted) - skipped, skipped)


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
