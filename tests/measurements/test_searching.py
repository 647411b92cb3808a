"""A search that measures as it goes: read what is measured, queue the rest, resume as jobs land."""

from __future__ import annotations

import pytest

from compression.selection import Budgets
from device_runner.file_cache import FileCache
from device_runner.queue_client.direct import DirectQueueClient
from measurements import actions
from measurements.models import Artifact, Job, Search
from tests.factories import make_device
from tests.measurements.recommend_world import plan_row
from tests.measurements.search_world import measure, run_queue, search_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return search_world()


def test_it_reads_measured_plans_and_queues_one_unmeasured_plan_at_a_time(world):
    owner, model, device = world
    for plan in ("baseline", "C1", "W3", "Q-dyn"):
        artifact = Artifact.objects.create(model=model, plan=plan_row(plan))
        measure(Job.objects.create(artifact=artifact, device=device))
    search = actions.start_search(owner, model, device, Budgets(), max_evaluations=5)

    states = [e["state"] for e in search.evaluations]
    assert states[-1] == "pending" and set(states[:-1]) <= {"read"}
    assert len(search.plans) == 7 and search.status == "running"
    job = Job.objects.get(pk=search.pending[0]["job"])
    assert job.status == "queued" and job.created_by == owner
    assert job.artifact.plan.canonical == search.pending[0]["plan"]
    # Nothing landed: advancing again asks for nothing and queues nothing.
    assert actions.advance_search(search).spent == search.spent
    assert Job.objects.filter(status="queued").count() == 1


def test_it_resumes_as_results_land_and_stops_at_its_budget(world):
    owner, model, device = world
    search = actions.start_search(owner, model, device, Budgets(), max_evaluations=4, seed=3)

    search = run_queue(search)
    assert (search.status, search.spent, search.budget) == ("done", 4, 4)
    assert {e["state"] for e in search.evaluations} == {"measured"}
    assert Job.objects.filter(status="succeeded").count() == 4
    best = search.answer["best"]
    assert best["plan"] == search.best_plan
    assert best["evaluation"] == "measured"
    assert best["figures"]["latency_ms"]["source"] == "measured"
    assert best["figures"]["energy_mj"]["value"] == pytest.approx(0.2)


def test_it_says_which_budget_binds_when_nothing_it_measured_fits(world):
    owner, model, device = world
    budgets = Budgets(latency_ms=1.0)
    search = run_queue(actions.start_search(owner, model, device, budgets, max_evaluations=3))
    assert search.status == "done" and search.best_plan == "" and search.answer["best"] is None
    assert any(r.startswith("latency_ms binds: 3 of 3 evaluated plan(s)") for r in search.reasons)
    assert search.answer["closest"][0]["relax"]["latency_ms"]["to"] > 1.0


def test_it_records_a_failed_job_with_its_reason_and_moves_on(world, tmp_path):
    owner, model, device = world
    search = actions.start_search(owner, model, device, Budgets(), max_evaluations=2)
    first = search.pending[0]
    client = DirectQueueClient("runner-x", FileCache(tmp_path / "cache"))
    claimed = Job.claim("runner-x", [device.pk], lease_seconds=30)
    assert claimed.pk == first["job"]
    # The runner's own failure path advances the search (no one needs to look at it).
    client.fail(client.ticket(claimed), "ArtifactFailed: no conv layer", False, False)

    search.refresh_from_db()
    assert search.evaluations[0]["state"] == "failed"
    assert "no conv layer" in search.evaluations[0]["note"]
    assert search.spent == 2 and search.pending[0]["plan"] != first["plan"]
    assert any(f"{first['plan']} (job {claimed.pk} failed" in r for r in search.reasons)


def test_it_cancels_the_queued_job_on_stop_and_keeps_what_was_measured(world):
    owner, model, device = world
    search = actions.start_search(owner, model, device, Budgets(), max_evaluations=3)
    job_id = search.pending[0]["job"]
    search = actions.stop_search(search)
    assert search.status == "stopped" and search.finished_at is not None
    assert Job.objects.get(pk=job_id).status == "cancelled"
    assert actions.advance_search(search).spent == 1  # a stopped search asks for nothing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_evaluations": 0}, "evaluation budget must be from 1 to 500"),
        ({"max_evaluations": 501}, "evaluation budget must be from 1 to 500"),
        ({"max_evaluations": 3, "threads": 0}, "Thread counts must be at least 1"),
        ({"max_evaluations": 3, "techniques": ["W9"]}, "cannot be searched for lenet-search"),
    ],
)
def test_it_refuses_bad_settings_and_writes_nothing(world, kwargs, message):
    owner, model, device = world
    with pytest.raises(ValueError, match=message):
        actions.start_search(owner, model, device, Budgets(), **kwargs)
    assert not Search.objects.exists() and not Job.objects.exists()


def test_it_refuses_a_device_that_never_runs_jobs(world):
    owner, model, _ = world
    phone = make_device(name="paper-phone", kind="external")
    with pytest.raises(ValueError, match="External devices never run jobs"):
        actions.start_search(owner, model, phone, Budgets(), max_evaluations=3)
    assert not Search.objects.exists()


@pytest.mark.parametrize("strategy", [None, "compose", "tpe"])
def test_it_runs_compose_by_default_and_tpe_when_asked(world, strategy):
    owner, model, device = world
    search = actions.start_search(
        owner, model, device, Budgets(), max_evaluations=3, strategy=strategy
    )
    assert Search.objects.get().strategy == (strategy or "compose")
    assert search.evaluations[0]["plan"] == "baseline" or strategy == "tpe"
    search = run_queue(search)
    assert search.status == "done" and 1 <= search.spent <= 3
    assert search.best_plan in {e["plan"] for e in search.evaluations}


def test_it_refuses_a_strategy_that_cannot_measure_as_it_goes(world):
    owner, model, device = world
    with pytest.raises(ValueError, match="runs compose or tpe. Received: strategy='greedy'"):
        actions.start_search(owner, model, device, Budgets(), max_evaluations=3, strategy="greedy")
    assert not Search.objects.exists() and not Job.objects.exists()


def test_it_leaves_no_half_started_search_when_its_first_step_fails(world, monkeypatch):
    from measurements.actions import searching

    def broken(search):
        raise RuntimeError("the strategy could not start")

    owner, model, device = world
    monkeypatch.setattr(searching, "_strategy", broken)
    with pytest.raises(RuntimeError, match="could not start"):
        actions.start_search(owner, model, device, Budgets(), max_evaluations=3)
    assert not Search.objects.exists() and not Job.objects.exists()
