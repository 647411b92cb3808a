"""A search allowed predicted figures predicts a compressed, unmeasured plan instead of queueing it.

The world (``predictable_world``): baseline, C1 and W3 measured on the device
(three results, the fewest the latency predictor learns from), Q-dyn
compressed (static figures and host accuracy) but never measured. The
searches below run over baseline and Q-dyn only, so which plans are asked
for does not depend on the strategy's choices.
"""

from __future__ import annotations

import pytest

from compression.selection import Budgets
from measurements import actions
from measurements.models import Artifact, Job, Result, Search
from tests.measurements.search_world import predictable_world, run_queue

pytestmark = pytest.mark.django_db

# Only Q-dyn fits (0.0675 MB; the baseline is 0.255 MB), so the answer is Q-dyn.
SMALL = Budgets(storage_mb=0.1)


def q_dyn_jobs(model):
    return Job.objects.filter(artifact__model=model, artifact__plan__canonical="Q-dyn")


def start(world, allow_predicted: bool, max_evaluations: int = 2) -> Search:
    owner, model, device = world
    return actions.start_search(
        owner, model, device, SMALL, max_evaluations=max_evaluations,
        techniques=["Q-dyn"], allow_predicted=allow_predicted,
    )  # fmt: skip


def test_it_evaluates_a_compressed_unmeasured_plan_from_predicted_figures_without_a_job():
    world = predictable_world()
    _, model, _ = world
    search = start(world, allow_predicted=True)

    assert [(e["plan"], e["state"], e["job"]) for e in search.evaluations] == [
        ("baseline", "read", None),
        ("Q-dyn", "predicted", None),
    ]
    figures = search.evaluations[1]["candidate"]["figures"]
    assert figures["latency_ms"]["source"] == "predicted"
    assert figures["latency_ms"]["value"] > 0
    assert search.evaluations[1]["candidate"]["latency_predictor"] == "forest"
    # The other figures say where they came from: the host evaluation, the energy model.
    assert figures["accuracy_pct"] == {"value": pytest.approx(96.0), "source": "measured"}
    assert figures["energy_mj"]["source"] == "estimated"
    best = search.answer["best"]
    assert (search.best_plan, best["plan"], best["evaluation"]) == ("Q-dyn", "Q-dyn", "predicted")
    assert best["figures"]["latency_ms"] == figures["latency_ms"]
    # Nothing queued: the search finished in the call that started it.
    assert not q_dyn_jobs(model).exists()
    assert Job.objects.count() == 3 and not Job.objects.filter(status="queued").exists()
    stored = Search.objects.get()
    assert (stored.status, stored.allow_predicted, stored.finished_at is not None) == (
        "done", True, True,
    )  # fmt: skip
    assert stored.evaluations == search.evaluations and stored.answer == search.answer


def test_it_spends_one_evaluation_on_a_predicted_plan_as_on_a_read_one():
    """The budget counts plans evaluated (read, predicted or measured), not compressions."""
    world = predictable_world()
    _, model, _ = world
    search = start(world, allow_predicted=True, max_evaluations=1)
    # N = 1 is spent on the baseline (read): Q-dyn is neither predicted nor queued.
    assert [e["state"] for e in search.evaluations] == ["read"]
    assert (search.status, search.spent, search.budget) == ("done", 1, 1)

    search = start(world, allow_predicted=True, max_evaluations=2)
    progress = search.to_dict()
    assert (progress["evaluations_spent"], progress["evaluation_budget"]) == (2, 2)
    assert (progress["pending"], progress["status"]) == (0, "done")
    assert Search.objects.count() == 2 and not q_dyn_jobs(model).exists()


def test_it_queues_the_same_plan_when_predictions_are_not_allowed():
    world = predictable_world()
    owner, model, device = world
    search = start(world, allow_predicted=False)

    assert [(e["plan"], e["state"]) for e in search.evaluations] == [
        ("baseline", "read"),
        ("Q-dyn", "pending"),
    ]
    job = q_dyn_jobs(model).get()
    assert search.pending[0]["job"] == job.pk and search.pending[0]["candidate"] is None
    # The job measures the artifact already compressed (no second one).
    assert Artifact.objects.get(model=model, plan__canonical="Q-dyn") == job.artifact
    assert (job.status, job.device, job.created_by) == ("queued", device, owner)
    assert Search.objects.get().status == "running"
    # Its measurement, when it lands, is what the answer reads.
    search = run_queue(search)
    assert search.evaluations[1]["state"] == "measured"
    assert search.answer["best"]["evaluation"] == "measured"
    assert search.answer["best"]["figures"]["latency_ms"]["source"] == "measured"


def test_it_queues_a_plan_it_cannot_predict_even_when_predictions_are_allowed():
    # Two measured results on the device: too few for the latency predictor.
    world = predictable_world(measured=("baseline", "C1"))
    _, model, _ = world
    search = start(world, allow_predicted=True)
    assert [e["state"] for e in search.evaluations] == ["read", "pending"]
    assert q_dyn_jobs(model).get().pk == search.pending[0]["job"]


def test_it_queues_a_compressed_plan_whose_accuracy_is_unknown():
    # Predicted latency alone cannot score a plan: eq. 1 needs its accuracy too.
    world = predictable_world()
    _, model, _ = world
    Artifact.objects.filter(model=model, plan__canonical="Q-dyn").update(accuracy=None)
    search = start(world, allow_predicted=True)
    assert [e["state"] for e in search.evaluations] == ["read", "pending"]
    assert q_dyn_jobs(model).get().status == "queued"


def test_it_queues_the_plan_when_one_of_three_results_has_a_zero_latency():
    # The database allows a 0 ms mean; the predictor (log latency) cannot learn from it, so
    # the device has two usable results: too few. It used to count three, fit on two, and
    # raise, leaving a search with no evaluations behind.
    world = predictable_world()
    _, model, device = world
    Result.objects.filter(device=device, artifact__plan__canonical="W3").update(latency_mean_ms=0)
    search = start(world, allow_predicted=True)
    assert [e["state"] for e in search.evaluations] == ["read", "pending"]
    assert Search.objects.get().status == "running"
    assert q_dyn_jobs(model).get().status == "queued"


def test_it_predicts_under_tpe_as_under_compose():
    owner, model, device = predictable_world()
    search = actions.start_search(
        owner, model, device, SMALL, max_evaluations=2, techniques=["Q-dyn"],
        allow_predicted=True, strategy="tpe",
    )  # fmt: skip
    states = {e["plan"]: e["state"] for e in search.evaluations}
    assert states == {"baseline": "read", "Q-dyn": "predicted"}
    assert search.answer["best"]["evaluation"] == "predicted"
    assert Search.objects.get().strategy == "tpe" and not q_dyn_jobs(model).exists()
