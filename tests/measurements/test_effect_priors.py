"""Compose learns where to start from the other models measured on the same device."""

from __future__ import annotations

import math

import pytest

from compression.selection import Budgets
from measurements import actions
from measurements.effect_priors import effect_prior_for
from measurements.models import Job, Search
from tests.factories import make_device, make_model
from tests.measurements.search_world import FIGURES, compress, measure, run_queue, search_world

pytestmark = pytest.mark.django_db

PLANS = ("baseline", "C1", "W3", "Q-dyn", "C1 + W3")


def measured_model(name: str, device, plans=PLANS):
    model = make_model(name=name)
    for plan in plans:
        measure(Job.objects.create(artifact=compress(model, plan), device=device))
    return model


def test_it_learns_from_every_other_model_on_the_device_and_nothing_else():
    owner, model, device = search_world()
    measured_model("net-a", device)
    measured_model("net-b", device)
    measured_model("elsewhere", make_device(name="other-host"))
    measured_model("headless", device, plans=("C1", "W3"))  # no baseline: teaches nothing
    for plan in PLANS:  # the model searched: its own figures never inform its prior
        measure(Job.objects.create(artifact=compress(model, plan), device=device))

    prior = effect_prior_for(model, device, threads=1)

    assert prior.networks == ("net-a", "net-b")
    baseline_bits, q_dyn_bits = FIGURES["baseline"][2], FIGURES["Q-dyn"][2]
    storage = math.log((q_dyn_bits + 40_000) / (baseline_bits + 40_000))
    assert prior.single("storage_mb", "Q-dyn")[0] == pytest.approx(storage)
    assert prior.single("latency_ms", "C1")[0] == pytest.approx(math.log(2.6 / 4.0))


def test_it_has_no_prior_without_another_measured_model():
    owner, model, device = search_world()
    assert effect_prior_for(model, device, threads=1) is None


def test_a_search_keeps_the_prior_it_started_with(client):
    owner, model, device = search_world()
    measured_model("net-a", device)
    measured_model("net-b", device)
    search = actions.start_search(owner, model, device, Budgets(), max_evaluations=3)
    started_with = Search.objects.get(pk=search.pk).prior
    assert started_with["networks"] == ["net-a", "net-b"]

    measured_model("net-c", device)  # lands while the search runs
    search = run_queue(search)

    assert search.status == "done" and search.prior == started_with
    client.force_login(owner)
    page = client.get(f"/recommend/searches/{search.pk}/")
    assert page.status_code == 200
    assert "what the techniques did to 2 other models measured on this device" in page.text
    api = client.get(f"/api/recommend/searches/{search.pk}/")
    assert api.status_code == 200 and api.json()["prior_networks"] == ["net-a", "net-b"]
