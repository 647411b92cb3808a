"""The analysis pages keep what they read between requests, and still show every change at once.

Transactional tests: each write commits, as a runner's or an import's does, so
the pages read through the per-process cache (measurements.results_cache).
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from measurements.models import Artifact, Result
from tests.factories import make_dataset, make_device, make_model
from tests.webapp.dashboard.helpers_analysis import (
    artifact,
    baseline_plan,
    catalogue,
    logged_in,
    measure,
    plan,
    row_ids,
    step,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("empty_results_cache"),
]
ON_POSTGRES = connection.vendor == "postgresql"


@pytest.fixture
def viewer():
    return logged_in()


@pytest.fixture
def lab():
    """A baseline and two compressions on one phone, all three on the latency-accuracy front."""
    catalogue()
    model, phone = make_model(), make_device(name="phone")
    base = artifact(model, baseline_plan(), accuracy=0.95, file_size=40_000)
    c2 = artifact(model, plan("C2@conv2", [step("C2", ("conv2",))]), file_size=10_000)
    w3 = artifact(model, plan("W3@fc1", [step("W3", ("fc1",))]), file_size=30_000)
    return {
        "model": model,
        "phone": phone,
        "base": measure(base, phone, latency_mean_ms=10.0, latency_ci95_ms=0.5, accuracy=0.95),
        "c2": measure(c2, phone, latency_mean_ms=5.0, latency_ci95_ms=0.2, accuracy=0.90),
        "w3": measure(w3, phone, latency_mean_ms=8.0, latency_ci95_ms=0.2, accuracy=0.93),
    }


def front(viewer, query: str = "") -> list[int]:
    response = viewer.get(f"/pareto/?{query}")
    assert response.status_code == 200
    return row_ids(response.content.decode(), "pareto-front")


def test_it_shows_a_new_result_on_the_next_request(viewer, lab):
    assert front(viewer) == [lab["c2"].pk, lab["w3"].pk, lab["base"].pk]
    assert front(viewer) == [lab["c2"].pk, lab["w3"].pk, lab["base"].pk]  # kept, same answer
    cl = artifact(lab["model"], plan("Cl@fc1", [step("Cl", ("fc1",))]), file_size=20_000)
    better = measure(cl, lab["phone"], latency_mean_ms=4.0, accuracy=0.96)
    assert front(viewer) == [better.pk]  # beats all three on both axes
    assert Result.objects.count() == 4


def test_it_shows_a_changed_or_deleted_result_on_the_next_request(viewer, lab):
    assert front(viewer) == [lab["c2"].pk, lab["w3"].pk, lab["base"].pk]
    Result.objects.filter(pk=lab["w3"].pk).update(latency_mean_ms=20.0)  # now beaten by base
    assert front(viewer) == [lab["c2"].pk, lab["base"].pk]
    Result.objects.filter(pk=lab["c2"].pk).delete()
    assert front(viewer) == [lab["base"].pk]
    assert not Result.objects.filter(pk=lab["c2"].pk).exists()


def test_it_shows_a_change_to_what_results_join_on_the_next_request(viewer, lab):
    sizes = "x=size&y=accuracy"
    assert front(viewer, sizes) == [lab["c2"].pk, lab["w3"].pk, lab["base"].pk]
    Artifact.objects.filter(pk=lab["base"].artifact_id).update(file_size=5_000)
    assert front(viewer, sizes) == [lab["base"].pk]  # smallest and most accurate now
    elsewhere = make_dataset(name="elsewhere")
    lab["model"].dataset = elsewhere
    lab["model"].save()
    assert front(viewer, f"{sizes}&dataset={elsewhere.pk}") == [lab["base"].pk]


def thread_options(viewer) -> list[str]:
    body = viewer.get("/pareto/").content.decode()
    select = re.search(r'<select name="threads">(.*?)</select>', body, re.S)
    assert select, "no thread count choice on the page"
    return re.findall(r'<option value="(\w+)"', select.group(1))


def test_it_offers_a_thread_count_measured_since_the_last_request(viewer, lab):
    assert thread_options(viewer) == ["1"]
    measure(lab["base"].artifact, lab["phone"], threads=4, latency_mean_ms=4.0)
    assert thread_options(viewer) == ["1", "4", "all"]


def test_it_reads_the_columns_once_while_nothing_changes(viewer, lab):
    def aggregates() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert viewer.get("/pareto/?threads=all").status_code == 200
        return sum("string_agg" in q["sql"] for q in queries.captured_queries)

    first, second = aggregates(), aggregates()
    if ON_POSTGRES:
        assert (first, second) == (1, 0)
        Result.objects.filter(pk=lab["c2"].pk).update(runs=5)
        assert aggregates() == 1  # a change: read afresh
    else:  # no results version there: read every time (as rows)
        assert (first, second) == (0, 0)


def test_it_shows_its_own_uncommitted_changes_inside_a_transaction(viewer, lab):
    assert front(viewer) == [lab["c2"].pk, lab["w3"].pk, lab["base"].pk]
    with transaction.atomic():
        Result.objects.filter(pk=lab["c2"].pk).delete()
        assert front(viewer) == [lab["w3"].pk, lab["base"].pk]
        transaction.set_rollback(True)
    assert front(viewer) == [lab["c2"].pk, lab["w3"].pk, lab["base"].pk]  # rolled back
    # Another change commits: as many changes as the rolled-back state had seen, a different
    # state. What the transaction saw must not be served for it.
    Result.objects.filter(pk=lab["w3"].pk).update(runs=9)
    assert front(viewer) == [lab["c2"].pk, lab["w3"].pk, lab["base"].pk]


def read_csv(viewer) -> dict[str, dict[str, str]]:
    response = viewer.get("/compare.csv")
    assert response.status_code == 200
    return {r["plan"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}


def test_it_compares_against_a_changed_baseline_on_the_next_request(viewer, lab):
    assert float(read_csv(viewer)["C2@conv2"]["speedup_x"]) == pytest.approx(2.0)
    assert "2.00×" in viewer.get("/compare/").content.decode()
    Result.objects.filter(pk=lab["base"].pk).update(latency_mean_ms=15.0)
    assert float(read_csv(viewer)["C2@conv2"]["speedup_x"]) == pytest.approx(3.0)
    assert "3.00×" in viewer.get("/compare/").content.decode()
    Result.objects.filter(pk=lab["w3"].pk).delete()
    assert set(read_csv(viewer)) == {"C2@conv2"}
