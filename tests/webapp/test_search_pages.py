"""The Recommend page starts a search that measures as it goes and shows its progress."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from measurements.models import Job, Search
from tests.measurements.search_world import predictable_world, run_queue, search_world

pytestmark = pytest.mark.django_db


def form(model, device, **fields) -> dict:
    return {
        "model": model.pk,
        "device": device.pk,
        "strategy": "compose",
        "threads": 1,
        "weights": "manual",
        "evaluations": 3,
        **fields,
    }


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_starts_a_search_and_shows_its_progress_until_it_is_done():
    owner, model, device = search_world()
    client = signed_in(owner)
    response = client.post("/recommend/searches/", form(model, device, min_accuracy_pct="90"))
    search = Search.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/recommend/searches/{search.pk}/"
    assert Job.objects.filter(status="queued", created_by=owner).count() == 1

    page = client.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh"' in page and "1 / 3" in page
    assert "waiting for its job" in page and "Stop the search" in page

    run_queue(search)
    page = client.get(response["Location"]).content.decode()
    search.refresh_from_db()
    assert search.status == "done" and '<meta http-equiv="refresh"' not in page
    assert "3 / 3" in page and f'<code id="search-best">{search.best_plan}</code>' in page
    assert "measured by the search's job" in page
    assert ' ms <small class="muted">measured</small>' in page
    assert ' mJ <small class="muted">estimated</small>' in page  # no sensor: eq. 5
    # The Recommend page lists the owner's searches.
    listing = client.get("/recommend/").content.decode()
    assert f"Search {search.pk}</a>: lenet-search on host" in listing


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"evaluations": -1}, "Ensure this value is greater than or equal to 1"),
        ({"evaluations": 501}, "Ensure this value is less than or equal to 500"),
        ({"latency_ms": "-2"}, "latency_ms cannot be negative"),
        ({"min_accuracy_pct": "120"}, "cannot exceed 100"),
        ({"techniques": "C1, W9"}, "These techniques cannot be searched for lenet-search"),
    ],
)
def test_bad_inputs_give_the_form_back_with_the_error_and_start_nothing(fields, error):
    owner, model, device = search_world()
    response = signed_in(owner).post("/recommend/searches/", form(model, device, **fields))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Search.objects.exists() and not Job.objects.exists()


def test_only_its_owner_and_staff_see_or_stop_a_search():
    owner, model, device = search_world()
    signed_in(owner).post("/recommend/searches/", form(model, device))
    search = Search.objects.get()
    other = signed_in(User.objects.create_user("other"))
    assert other.get(f"/recommend/searches/{search.pk}/").status_code == 404
    assert other.post(f"/recommend/searches/{search.pk}/stop/").status_code == 404
    assert f"Search {search.pk}" not in other.get("/recommend/").content.decode()
    search.refresh_from_db()
    assert search.status == "running"
    anonymous = Client().post(f"/recommend/searches/{search.pk}/stop/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert Client().post("/recommend/searches/", form(model, device)).status_code == 302
    assert Search.objects.count() == 1

    staff = signed_in(User.objects.create_user("lead", is_staff=True))
    assert staff.post(f"/recommend/searches/{search.pk}/stop/").status_code == 302
    search.refresh_from_db()
    assert search.status == "stopped"
    assert Job.objects.get().status == "cancelled"


def test_it_shows_a_plan_evaluated_from_predicted_figures_labelled_predicted():
    owner, model, device = predictable_world()
    client = signed_in(owner)
    fields = {"evaluations": 2, "techniques": "Q-dyn", "storage_mb": "0.1", "allow_predicted": "on"}
    response = client.post("/recommend/searches/", form(model, device, **fields))
    search = Search.objects.get()
    assert response.status_code == 302 and search.allow_predicted
    assert (search.status, search.best_plan) == ("done", "Q-dyn")
    assert not Job.objects.filter(artifact__plan__canonical="Q-dyn").exists()

    page = client.get(response["Location"]).content.decode()
    assert "2 / 2" in page and '<code id="search-best">Q-dyn</code>' in page
    assert '<tr data-state="predicted">' in page and "predicted (compressed, not measured)" in page
    assert ' ms <small class="muted">predicted</small>' in page
    assert "Plans compressed but not measured may use predicted figures" in page


def test_it_says_reads_and_predictions_spend_the_evaluation_budget():
    owner, _, _ = search_world()
    page = signed_in(owner).get("/recommend/").content.decode()
    assert "Evaluate at most (plans)" in page
    assert "each plan read, predicted, or compressed and measured spends one" in page
