"""Store a measured job's Result atomically with the job's success.

TensorFlow is imported inside the functions that need it: the web process
must not pay for it at start-up.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from measurements.actions.artifacts import ACCURACY_METHOD
from measurements.models import Artifact, Job, Result


class LeaseLost(Exception):
    """The job was cancelled or taken by another runner before its result was stored."""


def store_result(job: Job, owner: str, raw: dict[str, Any]) -> Result:
    """Store one Result for a measured job and mark the job succeeded, atomically.

    Energy comes from the device's sensor when the driver measured it, and is
    otherwise estimated with AdaDeep eq. 5 from the artifact's static figures;
    the Result says which. Accuracy is the artifact's, evaluated on the host.

    Raises:
        LeaseLost: the job is no longer this runner's; nothing is stored.
    """
    artifact = job.artifact
    latency = raw["latency"]
    fields = {
        "latency_mean_ms": latency["mean_ms"],
        "latency_median_ms": latency["median_ms"],
        "latency_p90_ms": latency["p90_ms"],
        "latency_std_ms": latency["std_ms"],
        "latency_ci95_ms": latency.get("ci_half_width_ms"),
        "runs": latency["runs"],
        "stop_reason": latency["stop_reason"],
        "stable": bool(latency["stable"]),
        "init_ms": raw.get("init_ms"),
        "first_inference_ms": raw.get("first_inference_ms"),
        "peak_memory_bytes": raw.get("peak_memory_bytes"),
        "op_breakdown": raw.get("op_breakdown") or {},
        "op_breakdown_method": raw.get("op_breakdown_method")
        or (raw.get("op_breakdown_reason") or ""),
        "provenance": {**raw.get("provenance", {}), "protocol": raw.get("protocol", {})},
        **_energy_fields(raw, artifact),
    }
    with transaction.atomic():
        result = Result.objects.create(
            job=job,
            artifact=artifact,
            device=job.device,
            num_threads=job.num_threads,
            accuracy=artifact.accuracy,
            precision=artifact.precision,
            recall=artifact.recall,
            f1=artifact.f1,
            accuracy_method=ACCURACY_METHOD,
            **fields,
        )
        if not job.succeed(owner):
            raise LeaseLost(f"Job {job.pk} is no longer leased to {owner}; result discarded.")
    return result


def _energy_fields(raw: dict[str, Any], artifact: Artifact) -> dict[str, Any]:
    from measurements.power.estimate import ESTIMATE_METHOD, estimate_energy_mj

    energy = raw.get("energy")
    if energy and energy.get("energy_mj") is not None:
        return {
            "energy_mj": max(energy["energy_mj"], 0.0),
            "energy_measured": True,
            "energy_method": energy.get("method") or "measured",
            "avg_power_w": energy.get("average_power_w"),
        }
    if None in (artifact.macs, artifact.sp_bits, artifact.sf_bits):
        return {"energy_mj": None, "energy_measured": False, "energy_method": ""}
    return {
        "energy_mj": estimate_energy_mj(artifact.macs, artifact.sp_bits, artifact.sf_bits),
        "energy_measured": False,
        "energy_method": ESTIMATE_METHOD,
    }
