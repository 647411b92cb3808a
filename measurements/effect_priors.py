"""What techniques did to the other models measured on a device: the compose search's prior.

Each other model with results on the device (measured or imported) is one
network's table: its latest result per compressed artifact, as the
Recommend page reads a model's own (``candidate_rows.measured_candidate``). A
model whose baseline was never measured there teaches nothing and is left
out by ``EffectPrior.learn``.
"""

from __future__ import annotations

from typing import Any

from measurements.candidate_rows import latest_per_artifact, measured_candidate
from measurements.models import Device, DNNModel, Result


def other_models_tables(model: DNNModel, device: Device, threads: int) -> dict[str, list[Any]]:
    """Model name -> its candidates from the device's results, every model but ``model``."""
    results = (
        Result.objects.filter(device=device, num_threads=threads, artifact__isnull=False)
        .exclude(artifact__model=model)
        .select_related("artifact__model", "artifact__plan")
        .order_by("-created_at")
    )
    tables: dict[str, list[Any]] = {}
    for result in latest_per_artifact(results):
        tables.setdefault(result.artifact.model.name, []).append(measured_candidate(result))
    return tables


def effect_prior_for(model: DNNModel, device: Device, threads: int) -> Any:
    """The ``EffectPrior`` learnt from the other models on the device; None when none teaches.

    Returns:
        A ``compression.selection.EffectPrior`` naming the models it learnt from, or None.
    """
    from compression.selection import EffectPrior

    prior = EffectPrior.learn(other_models_tables(model, device, threads))
    return prior if prior.networks else None
