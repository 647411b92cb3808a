"""A small database world for the selector: one model, a phone, measured and unmeasured plans."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from measurements.models import Artifact, Device, DNNModel
from tests.factories import make_artifact, make_device, make_job, make_model, make_result

# plan -> (MACs, weight bits, activation bits, host accuracy, measured latency ms or None)
PLANS = {
    "baseline": (400_000, 2_000_000, 60_000, 0.97, 4.0),
    "C1": (250_000, 1_900_000, 50_000, 0.95, 2.6),
    "W3": (390_000, 600_000, 60_000, 0.94, 3.8),
    "C1 + W3": (240_000, 500_000, 50_000, 0.91, 2.5),
    "L3": (380_000, 400_000, 60_000, 0.90, 3.7),
    "C2": (150_000, 1_800_000, 40_000, 0.93, None),
}


@dataclass
class World:
    model: DNNModel
    device: Device
    artifacts: dict[str, Artifact]


def plan_row(canonical: str):
    from measurements.models import Plan

    codes = [] if canonical == "baseline" else canonical.split(" + ")
    return Plan.objects.get_or_create(
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        defaults={
            "canonical": canonical,
            "steps": [{"code": c, "params": {}, "targets": []} for c in codes],
        },
    )[0]


def build_world() -> World:
    model = make_model(name="lenet-world")
    device = make_device(name="phone", battery_mah=3000, cache_mb=2.0)
    artifacts = {}
    for plan, (macs, sp, sf, accuracy, latency) in PLANS.items():
        artifact = make_artifact(
            model=model,
            plan=plan_row(plan),
            macs=macs,
            params=sp // 32,
            sp_bits=sp,
            sf_bits=sf,
            accuracy=accuracy,
            static_metrics={"by_op_type": {"CONV_2D": 2, "FULLY_CONNECTED": 3}},
        )
        artifacts[plan] = artifact
        if latency is not None:
            job = make_job(artifact=artifact, device=device)
            make_result(job=job, latency_mean_ms=latency, accuracy=None, energy_mj=None)
    # A plan compressed but never evaluated: no accuracy, so it cannot be scored.
    artifacts["W2"] = make_artifact(
        model=model, plan=plan_row("W2"), macs=390_000, sp_bits=700_000, sf_bits=60_000
    )
    return World(model, device, artifacts)
