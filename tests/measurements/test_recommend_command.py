"""`manage.py recommend --evaluations N --wait`: a search with a progress bar."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from measurements.management.commands import recommend as command
from measurements.models import Job, Search
from tests.measurements.search_world import measure, predictable_world, search_world

pytestmark = pytest.mark.django_db


def test_it_waits_for_the_search_drawing_its_progress(monkeypatch):
    _, model, device = search_world()

    def runner_meanwhile(_seconds: float) -> None:
        # What `runjobs` does while the command waits: measure the queued job.
        for job in Job.objects.filter(status="queued"):
            measure(job)

    monkeypatch.setattr(command.time, "sleep", runner_meanwhile)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "recommend", "--model", model.name, "--device", device.name, "--evaluations", "3",
        "--wait", "--poll", "0.01", stdout=out, stderr=err,
    )  # fmt: skip
    search = Search.objects.get()
    assert search.status == "done" and search.spent == 3
    assert "[" + "#" * 10 + "." * 20 + "] 1/3 evaluations, 1 waiting (running)" in err.getvalue()
    assert "[" + "#" * 30 + "] 3/3 evaluations" in err.getvalue()
    assert f"Search {search.pk}: done, 3 of 3 evaluations" in out.getvalue()
    assert f"Best plan: {search.best_plan}" in out.getvalue()
    assert "ms (measured)" in out.getvalue()


def test_it_refuses_a_bad_budget_before_starting_anything():
    _, model, device = search_world()
    with pytest.raises(CommandError, match="between|at most|from 1 to 500"):
        call_command(
            "recommend", "--model", model.name, "--device", device.name, "--evaluations", "0"
        )
    with pytest.raises(CommandError, match="latency_ms cannot be negative"):
        call_command(
            "recommend", "--model", model.name, "--device", device.name, "--evaluations", "2",
            "--latency-ms", "-1",
        )  # fmt: skip
    with pytest.raises(CommandError, match="--wait waits for a search"):
        call_command("recommend", "--model", model.name, "--device", device.name, "--wait")
    assert not Search.objects.exists() and not Job.objects.exists()


def test_it_prints_a_predicted_plan_labelled_predicted_with_allow_predicted():
    _, model, device = predictable_world()
    out = io.StringIO()
    call_command(
        "recommend", "--model", model.name, "--device", device.name, "--evaluations", "2",
        "--techniques", "Q-dyn", "--storage-mb", "0.1", "--allow-predicted", "--wait",
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    search = Search.objects.get()
    assert (search.allow_predicted, search.status, search.best_plan) == (True, "done", "Q-dyn")
    assert [e["state"] for e in search.evaluations] == ["read", "predicted"]
    assert not Job.objects.filter(artifact__plan__canonical="Q-dyn").exists()
    assert f"Search {search.pk}: done, 2 of 2 evaluations" in out.getvalue()
    assert "Best plan: Q-dyn" in out.getvalue() and "ms (predicted)" in out.getvalue()
