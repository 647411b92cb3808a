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
from measurements.actions.model_formats import refuse_inapplicable
from measurements.models import Artifact, Device, DNNModel, Job


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
    codes = sorted({step.code for plan in plans for step in plan.steps})
    for model in models:
        refuse_inapplicable(model, codes)
    jobs = []
    with transaction.atomic():
        rows = [get_or_create_plan(plan) for plan in plans]
        for model, plan_row, device, n in itertools.product(models, rows, devices, threads):
            artifact, _ = Artifact.objects.get_or_create(model=model, plan=plan_row)
            live = Job.objects.filter(artifact=artifact, device=device, num_threads=n)
            if live.exclude(status__in=["failed", "cancelled"]).exists():
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
