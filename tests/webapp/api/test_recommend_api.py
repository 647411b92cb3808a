"""GET/POST /api/recommend: the selector's answer, and a 400 per bad field."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.measurements.recommend_world import build_world

pytestmark = pytest.mark.django_db


def signed_in() -> APIClient:
    """A signed-in client: the selector never runs for anonymous visitors."""
    from django.contrib.auth.models import User

    client = APIClient()
    client.force_authenticate(User.objects.get_or_create(username="reader")[0])
    return client


def test_it_answers_with_the_best_plan_and_its_figures():
    world = build_world()
    response = signed_in().get(
        "/api/recommend",
        {
            "model": world.model.name,
            "device": world.device.pk,
            "min_accuracy_pct": "92",
            "latency_ms": "3",
            "weights": "device",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["best"]["plan"] in {"C1", "C2"}
    assert body["best"]["figures"]["latency_ms"]["source"] in {"measured", "predicted"}
    assert body["budgets"]["mu2"] == pytest.approx(0.6)
    assert body["evaluations"] == 6
    assert reverse("api-recommend") == "/api/recommend"


def test_it_takes_the_same_inputs_as_json():
    world = build_world()
    from django.contrib.auth.models import User

    client = APIClient()
    client.force_authenticate(User.objects.create_user("u"))
    body = {"model": world.model.pk, "device": world.device.name, "storage_mb": 0.01}
    response = client.post("/api/recommend", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["best"] is None
    assert "storage_mb" in response.json()["closest"][0]["relax"]


def test_it_refuses_bad_budgets_with_a_message_per_field():
    world = build_world()
    response = signed_in().get(
        "/api/recommend",
        {
            "model": world.model.pk,
            "device": world.device.pk,
            "min_accuracy_pct": "150",
            "max_energy_mj": "-2",
            "latency_ms": "nan",
            "mu1": "0.9",
            "mu2": "0.9",
            "strategy": "anneal",
        },
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"min_accuracy_pct", "max_energy_mj", "latency_ms", "mu2", "strategy"}
    assert "100" in errors["min_accuracy_pct"] and "negative" in errors["max_energy_mj"]


def test_it_names_an_unknown_model():
    response = signed_in().get("/api/recommend", {"model": "nope", "device": "nope"})
    assert response.status_code == 400
    assert set(response.json()) >= {"model", "device"}


def test_it_runs_compose_unless_told_otherwise_and_knows_the_selectors_strategies():
    from compression import selection
    from webapp.api import recommend

    assert set(recommend.STRATEGIES) == set(selection.STRATEGIES)
    assert recommend.DEFAULT_STRATEGY == selection.DEFAULT_STRATEGY == "compose"
    world = build_world()
    query = {"model": world.model.pk, "device": world.device.pk, "min_accuracy_pct": "92"}
    assert signed_in().get("/api/recommend", query).json()["strategy"] == "compose"
    chosen = signed_in().get("/api/recommend", {**query, "strategy": "tpe"}).json()
    assert chosen["strategy"] == "tpe" and chosen["best"] is not None


def test_it_does_not_import_the_selector_in_the_url_module():
    import webapp.api.recommend

    source = Path(webapp.api.recommend.__file__).read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any("compression" in line or "tensorflow" in line for line in top_level)


def test_it_answers_odd_inputs_with_a_400_not_a_500():
    from django.contrib.auth.models import User

    client = APIClient()
    client.force_authenticate(User.objects.create_user("odd"))
    assert client.post("/api/recommend", [1, 2], format="json").status_code == 400
    response = signed_in().get(
        "/api/recommend", {"model": "9" * 30, "device": "1", "threads": "100000"}
    )
    assert response.status_code == 400
    assert {"model", "threads"} <= set(response.json())
