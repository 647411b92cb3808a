"""A small world for searches: three catalogue techniques, a model, a host, a fake runner."""

from __future__ import annotations

from measurements import actions
from measurements.models import Artifact, Job, Search, Technique
from tests.factories import make_device, make_model, make_result

# Three techniques, one per slot: 7 plans (baseline, 3 singles, 3 pairs).
TECHNIQUES = {"C1": "conv", "W3": "fc", "Q-dyn": "model"}
# plan -> (accuracy fraction, latency ms, storage bits); what a "runner" measures.
FIGURES = {
    "baseline": (0.97, 4.0, 2_000_000),
    "C1": (0.95, 2.6, 1_900_000),
    "W3": (0.94, 3.8, 600_000),
    "Q-dyn": (0.96, 3.0, 500_000),
    "C1 + W3": (0.91, 2.5, 500_000),
    "C1 + Q-dyn": (0.93, 2.0, 480_000),
    "W3 + Q-dyn": (0.92, 2.9, 150_000),
}


def search_world(owner_name: str = "searcher"):
    """(owner, model, device) with the three techniques in the catalogue."""
    from django.contrib.auth.models import User

    for code, scope in TECHNIQUES.items():
        Technique.objects.create(
            code=code, name=code, category="pruning", applies_to=scope, accepts=["keras"]
        )
    owner = User.objects.create_user(owner_name)
    return owner, make_model(name="lenet-search"), make_device(name="host")


def measure(job: Job, latency: float | None = None) -> None:
    """What a runner does with a queued job: compress (the figures) and measure."""
    accuracy, latency_ms, bits = FIGURES[job.artifact.plan.canonical]
    Artifact.objects.filter(pk=job.artifact_id).update(
        status="ready", accuracy=accuracy, macs=100_000, sp_bits=bits, sf_bits=40_000
    )
    job.refresh_from_db()
    make_result(job=job, latency_mean_ms=latency or latency_ms, accuracy=accuracy, energy_mj=0.2)
    Job.objects.filter(pk=job.pk).update(status="succeeded", progress=1.0)


def run_queue(search: Search) -> Search:
    """Measure the search's jobs one by one, advancing it after each, until it is done."""
    for _ in range(20):
        search.refresh_from_db()
        if search.finished:
            return search
        job = Job.objects.get(pk=search.pending[0]["job"])
        measure(job)
        assert actions.advance_searches(job.pk) == 1
    raise AssertionError("the search never finished")


def compress(model, plan: str) -> Artifact:
    """A plan compressed (static figures, host accuracy) but never measured on any device."""
    from tests.measurements.recommend_world import plan_row

    accuracy, _, bits = FIGURES[plan]
    return Artifact.objects.create(
        model=model, plan=plan_row(plan), status="ready",
        accuracy=accuracy, macs=100_000, sp_bits=bits, sf_bits=40_000,
    )  # fmt: skip


def predictable_world(measured: tuple[str, ...] = ("baseline", "C1", "W3")):
    """(owner, model, device) with ``measured`` plans measured and Q-dyn only compressed.

    The latency predictor needs at least three measured results on the device
    (``compression.selection.predictor.MIN_ROWS``), so by default Q-dyn's
    latency can be predicted from them.
    """
    owner, model, device = search_world()
    for plan in measured:
        measure(Job.objects.create(artifact=compress(model, plan), device=device))
    compress(model, "Q-dyn")
    return owner, model, device
