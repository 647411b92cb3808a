"""Queue model x plan x device x threads, and the standard sweep.

TensorFlow is imported inside the functions that need it: the web process
must not pay for it at start-up.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from measurements.actions.catalogue import get_or_create_plan
from measurements.actions.model_formats import refuse_inapplicable
from measurements.models import Artifact, Device, DNNModel, Job

# Statuses that do not block queueing the same combination again: the one place
# this rule lives (the new-jobs preview counts with it too).
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


def parse_plans(sources: Iterable[tuple[str, str]]) -> tuple[list[ParsedPlan], list[str]]:
    """Parse ``(source, text)`` pairs, dropping repeats of a plan already seen.

    Args:
        sources: where each plan came from ("line 3", or "" when there is no
            better name) and its text.

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
            where = f"{source.capitalize()}, plan" if source else "Plan"
            errors.append(f"{where} {text!r}: {exc}")
            continue
        key = plan.sha256()
        if key not in seen:
            seen.add(key)
            plans.append(ParsedPlan(plan.canonical(), key, source))
    return plans, errors


def standard_sweep_texts(model_format: str = "keras") -> list[str]:
    """Baseline plus every technique that accepts ``model_format``, alone, at each sweep setting."""
    from compression.plan import Plan as CompressionPlan
    from compression.plan import PlanStep
    from compression.techniques import all_techniques

    texts = [CompressionPlan.baseline().canonical()]
    for cls in all_techniques(model_format):
        for params in cls.sweep:
            texts.append(CompressionPlan((PlanStep(cls.code, dict(params), ()),)).canonical())
    return texts


def refuse_unrunnable(models: list[DNNModel], devices: list[Device]) -> None:
    """Refuse reference models (no file to compress) and external devices (no driver).

    Raises:
        ValueError: naming each one.
    """
    external = [d.name for d in devices if not d.runs_jobs]
    if external:
        raise ValueError(
            f"External devices never run jobs (import their results instead). "
            f"Received: devices={external}"
        )
    references = [m.name for m in models if m.is_reference]
    if references:
        raise ValueError(
            f"Reference models have no file to compress (import their results instead). "
            f"Received: models={references}"
        )


def queue_jobs(
    models: list[DNNModel],
    plan_texts: list[str],
    devices: list[Device],
    threads: list[int],
    protocol: dict[str, Any] | None = None,
    user: Any = None,
) -> list[Job]:
    """Queue model x plan x device x threads; skips combinations already queued or done.

    Plans are parsed first, so a malformed one refuses the whole request.
    """
    from compression.plan import Plan as CompressionPlan

    if any(t < 1 for t in threads):
        raise ValueError(f"Thread counts must be at least 1. Received: threads={threads}")
    refuse_unrunnable(models, devices)
    plans = [CompressionPlan.parse(text) for text in plan_texts]
    codes = sorted({step.code for plan in plans for step in plan.steps})
    for model in models:
        refuse_inapplicable(model, codes)
    jobs = []
    with transaction.atomic():
        rows = [get_or_create_plan(plan) for plan in plans]
        for model, plan_row, device, n in itertools.product(models, rows, devices, threads):
            artifact, _ = Artifact.objects.get_or_create(model=model, plan=plan_row)
            live = Job.objects.filter(artifact=artifact, device=device, num_threads=n)
            if live.exclude(status__in=REQUEUABLE).exists():
                continue
            jobs.append(
                Job.objects.create(
                    artifact=artifact,
                    device=device,
                    num_threads=n,
                    protocol=protocol or {},
                    max_attempts=settings.JOB_MAX_ATTEMPTS,
                    created_by=user if getattr(user, "is_authenticated", False) else None,
                )
            )
    return jobs


def plan_jobs(
    models: Sequence[DNNModel],
    plans: Sequence[ParsedPlan],
    devices: Sequence[Device],
    threads: Sequence[int],
) -> Preview:
    """Count the jobs ``queue_jobs`` would create for this request, without creating any.

    One job per model x plan x device x thread count; a combination that already
    has a job outside ``REQUEUABLE`` is skipped (``queue_jobs``' own rule). Plans
    are compared by their canonical text's SHA-256, the key the Plan table is
    unique on, so ``W3(s=0.50)`` and ``W3( s=0.5 )`` are one plan.

    Args:
        models: the models to compress.
        plans: the distinct plans, from ``parse_plans``.
        devices: the devices to measure on.
        threads: the thread counts.

    Returns:
        The combinations asked for, how many would be queued, how many skipped.
    """
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
