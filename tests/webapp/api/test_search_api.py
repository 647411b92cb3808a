"""/api/recommend starts a search that measures as it goes; its progress is read back."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from measurements.models import Job, Search
from tests.measurements.search_world import predictable_world, run_queue, search_world

pytestmark = pytest.mark.django_db


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_it_starts_a_search_and_reports_evaluations_spent_and_the_best_so_far():
    owner, model, device = search_world()
    client = client_of(owner)
    body = {"model": model.name, "device": device.name, "evaluations": 3, "latency_ms": 3.5}
    response = client.post("/api/recommend", body, format="json")
    assert response.status_code == 201, response.content
    started = response.json()
    assert response["Location"] == started["url"] == f"/api/recommend/searches/{started['id']}/"
    progress = (started["status"], started["evaluations_spent"], started["pending"])
    assert progress == ("running", 1, 1)
    assert started["evaluation_budget"] == 3 and started["plans"] == 7

    run_queue(Search.objects.get())
    done = client.get(started["url"]).json()
    assert done["status"] == "done" and done["evaluations_spent"] == 3
    assert done["best"]["figures"]["latency_ms"]["source"] == "measured"
    assert done["best"]["figures"]["latency_ms"]["value"] <= 3.5
    assert done["best"]["evaluation"] == "measured"
    assert [e["state"] for e in done["evaluations"]] == ["measured"] * 3
    listed = client.get("/api/recommend/searches/").json()["results"]
    assert [s["id"] for s in listed] == [started["id"]]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"evaluations": 0}, "evaluations", "integer from 1 to 500"),
        ({"evaluations": "many"}, "evaluations", "integer from 1 to 500"),
        ({"evaluations": 3, "storage_mb": -1}, "storage_mb", "cannot be negative"),
        ({"evaluations": 3, "strategy": "greedy"}, "strategy", "runs compose or tpe"),
        ({"evaluations": 3, "allow_predicted": "maybe"}, "allow_predicted", "true or false"),
        ({"evaluations": 3, "techniques": ["KD"]}, "detail", "cannot be searched"),
    ],
)
def test_it_answers_bad_search_inputs_with_a_400_naming_the_field(fields, field, message):
    owner, model, device = search_world()
    body = {"model": model.pk, "device": device.pk, **fields}
    response = client_of(owner).post("/api/recommend", body, format="json")
    assert response.status_code == 400
    assert message in response.json()[field]
    assert not Search.objects.exists() and not Job.objects.exists()


def test_it_never_starts_a_search_on_a_get():
    owner, model, device = search_world()
    params = {"model": model.pk, "device": device.pk, "evaluations": 3}
    response = client_of(owner).get("/api/recommend", params)
    assert response.status_code == 400 and "POST" in response.json()["evaluations"]
    assert not Search.objects.exists()


def test_it_hides_a_search_from_other_users_and_lets_staff_stop_it():
    owner, model, device = search_world()
    body = {"model": model.pk, "device": device.pk, "evaluations": 3}
    url = client_of(owner).post("/api/recommend", body, format="json").json()["url"]
    other = client_of(User.objects.create_user("other"))
    assert other.get(url).status_code == 404
    assert other.post(url + "stop/").status_code == 404
    assert other.get("/api/recommend/searches/").json()["results"] == []
    assert APIClient().get(url).status_code == 401
    staff = client_of(User.objects.create_user("lead", is_staff=True))
    stopped = staff.post(url + "stop/")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert Job.objects.get().status == "cancelled"


def test_it_answers_from_predicted_figures_labelled_predicted_when_allowed():
    owner, model, device = predictable_world()
    body = {
        "model": model.name, "device": device.name, "evaluations": 2, "storage_mb": 0.1,
        "techniques": ["Q-dyn"], "allow_predicted": True,
    }  # fmt: skip
    response = client_of(owner).post("/api/recommend", body, format="json")
    assert response.status_code == 201, response.content
    started = response.json()
    assert (started["status"], started["allow_predicted"], started["pending"]) == ("done", True, 0)
    assert [(e["plan"], e["state"], e["job"]) for e in started["evaluations"]] == [
        ("baseline", "read", None),
        ("Q-dyn", "predicted", None),
    ]
    assert (started["best"]["plan"], started["best"]["evaluation"]) == ("Q-dyn", "predicted")
    assert started["best"]["figures"]["latency_ms"]["source"] == "predicted"
    assert started["evaluations_spent"] == started["evaluation_budget"] == 2
    search = Search.objects.get()
    assert (search.allow_predicted, search.best_plan) == (True, "Q-dyn")
    assert not Job.objects.filter(artifact__plan__canonical="Q-dyn").exists()
    assert client_of(owner).get(started["url"]).json()["best"] == started["best"]
