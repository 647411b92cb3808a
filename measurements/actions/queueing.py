"""Queue model x plan x device x threads, and the standard sweep.

TensorFlow is imported inside the functions that need it: the web process
must not pay for it at start-up.
"""

from __future__ import annotations

import itertools
from typing import Any

from django.conf import settings
from django.db import transaction

from measurements.actions.catalogue import get_or_create_plan
from measurements.models import Artifact, Device, DNNModel, Job

# Statuses that do not block queueing the same combination again: the one place
# this rule lives (the new-jobs preview counts with it too).
REQUEUABLE = (Job.Status.FAILED, Job.Status.CANCELLED)


def standard_sweep_texts() -> list[str]:
    """Baseline plus every registered technique alone, at each of its sweep settings."""
    from compression.plan import Plan as CompressionPlan
    from compression.plan import PlanStep
    from compression.techniques import all_techniques

    texts = [CompressionPlan.baseline().canonical()]
    for cls in all_techniques():
        for params in cls.sweep:
            texts.append(CompressionPlan((PlanStep(cls.code, dict(params), ()),)).canonical())
    return texts


def refuse_unrunnable(models: list[DNNModel], devices: list[Device]) -> None:
    """Refuse reference models (no file to compress) and external devices (no driver).

    Raises:
        ValueError: naming each one.
    """
    external = [d.name for d in devices if d.is_external]
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
