"""Candidates from database rows: a result's measured figures, an artifact's predicted ones.

Storage and MACs come exact from the artifact's static figures, energy from
the result's sensor or seed 004 eq. 5 (estimated), and every figure names its
provenance (``measurements.provenance``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from measurements.models import Artifact, Result
from measurements.provenance import (
    ESTIMATED,
    MEASURED,
    PREDICTED,
    result_figure_source,
    static_figure_source,
)

BYTES_PER_MB = 1e6


def latest_per_artifact(results: Iterable[Result]) -> list[Result]:
    """The first result of each artifact: the latest, given results newest first."""
    latest: dict[int, Result] = {}
    for result in results:
        latest.setdefault(result.artifact_id, result)
    return list(latest.values())


def _storage(artifact: Artifact) -> tuple[float | None, float | None]:
    """(S, Sp) in MB: eq. 3 from the .tflite's bits, else the file size."""
    if artifact.sp_bits is not None and artifact.sf_bits is not None:
        total = (artifact.sp_bits + artifact.sf_bits) / 8 / BYTES_PER_MB
        return total, artifact.sp_bits / 8 / BYTES_PER_MB
    if artifact.file_size is not None:
        return artifact.file_size / BYTES_PER_MB, artifact.file_size / BYTES_PER_MB
    return None, None


def _estimated_energy(artifact: Artifact) -> float | None:
    stored = (artifact.static_metrics or {}).get("energy_mj")
    if stored is not None:
        return float(stored)
    if None in (artifact.macs, artifact.sp_bits, artifact.sf_bits):
        return None
    from compression.analysis import estimate_energy_mj

    return estimate_energy_mj(artifact.macs, artifact.sp_bits, artifact.sf_bits)


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else 100.0 * fraction


def measured_candidate(result: Result) -> Any:
    """A candidate from a result: figures measured where the result has them."""
    from compression.selection import Candidate

    artifact = result.artifact
    storage, weights = _storage(artifact)
    accuracy = _pct(result.accuracy if result.accuracy is not None else artifact.accuracy)
    energy = result.energy_mj if result.energy_mj is not None else _estimated_energy(artifact)
    return Candidate(
        plan=artifact.plan.canonical,
        accuracy_pct=accuracy,
        energy_mj=energy,
        latency_ms=result.latency_mean_ms,
        storage_mb=storage,
        weights_mb=weights,
        macs=artifact.macs,
        sources=_result_sources(result),
        extra={
            "artifact_id": artifact.pk,
            "result_id": result.pk,
            "num_threads": result.num_threads,
            "result_source": result.source,
        },
    )


def _result_sources(result: Result) -> dict[str, str]:
    """The provenance vocabulary for each figure of a result's candidate.

    An imported row's figures are imported (with its label); a figure the row
    lacks comes from the artifact (host-evaluated accuracy: measured) or an
    energy model (estimated).
    """
    artifact = result.artifact

    def of(group: str, present: bool, fallback: str) -> str:
        if not present:
            return fallback
        return result_figure_source(
            result.source, result.source_label, group, result.energy_measured
        )

    return {
        "accuracy_pct": of("quality", result.accuracy is not None, MEASURED),
        "energy_mj": of("energy", result.energy_mj is not None, ESTIMATED),
        "latency_ms": of("latency", True, MEASURED),
        "storage_mb": static_figure_source(artifact.static_metrics, "file_size"),
        "weights_mb": static_figure_source(artifact.static_metrics, "sp_bits"),
    }


def predicted_candidate(
    artifact: Artifact, latency_ms: float | None, threads: int, predictor: str = "forest"
) -> Any:
    """A candidate for an artifact not measured on the device.

    ``predictor`` names what predicted the latency: "kernel" or "forest".
    """
    from compression.selection import Candidate

    storage, weights = _storage(artifact)
    return Candidate(
        plan=artifact.plan.canonical,
        accuracy_pct=_pct(artifact.accuracy),
        energy_mj=_estimated_energy(artifact),
        latency_ms=latency_ms,
        storage_mb=storage,
        weights_mb=weights,
        macs=artifact.macs,
        sources={
            "accuracy_pct": MEASURED,  # evaluated on the host through the .tflite
            "energy_mj": ESTIMATED,
            "latency_ms": PREDICTED,
            "storage_mb": static_figure_source(artifact.static_metrics, "file_size"),
            "weights_mb": static_figure_source(artifact.static_metrics, "sp_bits"),
        },
        extra={
            "artifact_id": artifact.pk,
            "num_threads": threads,
            "latency_predictor": predictor if latency_ms is not None else None,
        },
    )
