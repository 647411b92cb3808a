"""The Recommend page: the best plan with figures and provenance, errors per field, queueing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from measurements.models import Job
from tests.measurements.recommend_world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    """Signed in: the page runs the selector, so anonymous visitors are sent to log in."""
    client.force_login(User.objects.create_user("asker"))
    return client


def test_it_sends_anonymous_visitors_to_log_in_and_runs_nothing(db):
    from django.test import Client

    world = build_world()
    response = ask(Client(), world, min_accuracy_pct="92")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert response.context is None  # no page rendered, so no recommendation computed


def ask(client, world, **budgets):
    params = {
        "model": world.model.pk,
        "device": world.device.pk,
        "strategy": "exhaustive",
        "threads": 1,
        "weights": "device",
        **budgets,
    }
    return client.get("/recommend/", params)


def test_it_shows_the_best_plan_with_units_provenance_and_a_local_chart(client):
    world = build_world()
    response = ask(client, world, min_accuracy_pct="92", latency_ms="3")
    assert response.status_code == 200
    page = response.content.decode()
    answer = response.context["answer"]
    assert answer["best"]["plan"] in {"C1", "C2"}
    assert f"Best plan: <code>{answer['best']['plan']}</code>" in page
    assert " ms <small" in page and " MB <small" in page and " mJ <small" in page
    assert "measured" in page and "predicted" in page and "estimated" in page
    assert "vendor/plotly.min.js" in page and "cdn" not in page.lower()
    assert 'id="recommend-points"' in page
    assert "Binding budget" in page


def test_it_says_which_budget_to_relax_when_nothing_fits(client):
    world = build_world()
    page = ask(client, world, latency_ms="1").content.decode()
    assert "Nothing fits these budgets" in page
    assert "latency budget (ms) to" in page


def test_it_refuses_bad_budgets_with_a_message_per_field(client):
    world = build_world()
    response = ask(
        client, world, min_accuracy_pct="150", max_energy_mj="-1", weights="manual", mu1="0.9"
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"min_accuracy_pct", "max_energy_mj", "mu2"}
    assert "cannot exceed 100" in form.errors["min_accuracy_pct"][0]
    assert response.context["answer"] is None


def test_it_queues_the_measure_next_jobs_for_a_signed_in_user(client):
    world = build_world()
    client.force_login(User.objects.create_user("ana"))
    answer = ask(client, world, min_accuracy_pct="92").context["answer"]
    plans = [item["plan"] for item in answer["measure_next"]]
    data = {"model": world.model.pk, "device": world.device.pk, "threads": 1, "plan": plans}
    response = client.post("/recommend/queue/", data)
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    queued = Job.objects.filter(device=world.device, created_by__username="ana")
    assert sorted(job.artifact.plan.canonical for job in queued) == sorted(plans)


def test_it_needs_a_login_to_queue(db):
    from django.test import Client

    world = build_world()
    data = {"model": world.model.pk, "device": world.device.pk, "threads": 1, "plan": ["C2"]}
    response = Client().post("/recommend/queue/", data)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Job.objects.filter(artifact=world.artifacts["C2"]).exists()


def test_it_defaults_to_compose_and_keeps_the_other_strategies_selectable(client):
    world = build_world()
    page = client.get("/recommend/").content.decode()
    assert '<option value="compose" selected>' in page
    for strategy in ("exhaustive", "greedy", "dqn", "tpe"):
        assert f'<option value="{strategy}">' in page
    budgets = {"min_accuracy_pct": "92", "latency_ms": "3"}
    answer = ask(client, world, strategy="compose", **budgets).context["answer"]
    exhaustive = ask(client, world, strategy="exhaustive", **budgets).context["answer"]
    assert answer["strategy"] == "compose"
    assert answer["best"]["plan"] == exhaustive["best"]["plan"]


def test_it_says_which_other_models_compose_started_from(client):
    from tests.factories import make_artifact, make_job, make_model, make_result
    from tests.measurements.recommend_world import PLANS, plan_row

    world = build_world()
    for name in ("net-a", "net-b"):
        other = make_model(name=name)
        for plan, (macs, sp, sf, accuracy, latency) in PLANS.items():
            if latency is None:
                continue
            artifact = make_artifact(
                model=other, plan=plan_row(plan), macs=macs, sp_bits=sp, sf_bits=sf,
                accuracy=accuracy,
            )  # fmt: skip
            job = make_job(artifact=artifact, device=world.device)
            make_result(job=job, latency_mean_ms=latency)

    response = ask(client, world, min_accuracy_pct="92", strategy="compose")

    assert response.status_code == 200
    assert response.context["answer"]["details"]["prior_networks"] == ["net-a", "net-b"]
    assert "Compose started from what the techniques did to 2 other models" in response.text
