"""Reading: every resource listed and shown to anyone, filtered, ordered and paginated."""

from __future__ import annotations

from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from measurements.models import Result
from tests.webapp.api.conftest import ids_of

pytestmark = pytest.mark.django_db


def test_it_lists_every_resource_to_a_signed_in_reader(reader, world):
    counts = {
        "datasets": 2,
        "models": 3,
        "techniques": 3,
        "plans": 3,
        "artifacts": 4,
        "devices": 2,
        "jobs": 5,
        "results": 4,
    }
    for resource, count in counts.items():
        response = reader.get(f"/api/{resource}/")
        assert response.status_code == 200, resource
        assert response.json()["count"] == count, resource


def test_it_nests_a_results_figures_with_names_and_methods(reader, world):
    result = world.results["base"]
    Result.objects.filter(pk=result.pk).update(
        latency_median_ms=1.9,
        latency_p90_ms=2.4,
        latency_std_ms=0.2,
        latency_ci95_ms=0.05,
        runs=120,
        stop_reason="ci",
        stable=False,
        peak_memory_bytes=1_048_576,
        op_breakdown={"CONV_2D": 1.25, "FULLY_CONNECTED": 0.5},
        op_breakdown_method="LiteRT profiler",
        precision=0.97,
        recall=0.96,
        f1=0.965,
        accuracy_method="host-evaluated",
        provenance={"litert": "2.3.0"},
    )
    body = reader.get(f"/api/results/{result.pk}/").json()
    assert body["model"] == "lenet" and body["model_id"] == world.lenet.pk
    assert body["dataset"] == "digits"
    assert body["plan"] == "baseline" and body["plan_id"] == world.baseline.pk
    assert body["device"] == "laptop" and body["device_id"] == world.laptop.pk
    assert body["latency"] == {
        "mean_ms": 2.0,
        "median_ms": 1.9,
        "p90_ms": 2.4,
        "std_ms": 0.2,
        "ci95_ms": 0.05,
        "runs": 120,
        "stop_reason": "ci",
        "stable": False,
        "init_ms": None,
        "first_inference_ms": None,
    }
    assert body["energy"] == {"mj": 5.0, "measured": True, "method": "rapl", "avg_power_w": None}
    assert body["memory"] == {"peak_bytes": 1_048_576}
    assert body["quality"] == {
        "accuracy": 0.98,
        "precision": 0.97,
        "recall": 0.96,
        "f1": 0.965,
        "method": "host-evaluated",
    }
    assert body["op_breakdown"]["ms_by_op"] == {"CONV_2D": 1.25, "FULLY_CONNECTED": 0.5}
    assert body["op_breakdown"]["method"] == "LiteRT profiler"
    assert body["static"]["file_size"] == 240_000
    assert body["provenance"] == {"litert": "2.3.0"}
    assert body["source"] == "measured" and body["job"] == world.jobs["base"].pk


def test_it_says_an_estimated_energy_is_not_measured(reader, world):
    body = reader.get(f"/api/results/{world.results['pruned'].pk}/").json()
    assert body["energy"]["measured"] is False and body["energy"]["mj"] == 4.0


def test_it_filters_results_by_model_dataset_device_and_threads(reader, world):
    r = world.results
    assert set(ids_of(reader.get(f"/api/results/?model={world.lenet.pk}"))) == {
        r["base"].pk,
        r["pruned"].pk,
        r["int8"].pk,
    }
    assert ids_of(reader.get(f"/api/results/?dataset={world.cifar.pk}")) == [r["alex"].pk]
    on_jetson = reader.get(f"/api/results/?device={world.jetson.pk}&threads=4")
    assert ids_of(on_jetson) == [r["int8"].pk]
    both = reader.get(f"/api/results/?model={world.lenet.pk},{world.alexnet.pk}")
    assert len(ids_of(both)) == 4


def test_it_filters_by_technique_code_and_category_without_duplicates(reader, world):
    r = world.results
    w3 = ids_of(reader.get("/api/results/?technique=W3"))
    assert sorted(w3) == sorted([r["pruned"].pk, r["int8"].pk])
    # A plan with both codes must still appear once.
    either = ids_of(reader.get("/api/results/?technique=W3,Q-int8"))
    assert sorted(either) == sorted([r["pruned"].pk, r["int8"].pk])
    assert ids_of(reader.get("/api/results/?category=quantization")) == [r["int8"].pk]
    plans = ids_of(reader.get("/api/plans/?category=pruning"))
    assert sorted(plans) == sorted([world.pruned.pk, world.pruned_int8.pk])


def test_it_filters_jobs_and_artifacts_by_status(reader, world):
    assert ids_of(reader.get("/api/jobs/?status=queued")) == [world.jobs["queued"].pk]
    assert len(ids_of(reader.get("/api/jobs/?status=succeeded,queued"))) == 5
    assert len(ids_of(reader.get("/api/artifacts/?status=ready"))) == 4
    assert ids_of(reader.get("/api/artifacts/?status=failed")) == []


def timedelta_zone(hours: int, minutes: int) -> dt_timezone:
    return dt_timezone(timedelta(hours=hours, minutes=minutes))


def test_it_filters_by_creation_date_range(reader, world):
    old = world.results["alex"]
    Result.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    day = (timezone.now() - timedelta(days=10)).date().isoformat()
    assert ids_of(reader.get(f"/api/results/?created_before={day}")) == [old.pk]
    recent = ids_of(reader.get(f"/api/results/?created_after={timezone.now().date()}"))
    assert old.pk not in recent and len(recent) == 3
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(ids_of(reader.get("/api/results/", {"created_after": since}))) == 3
    # An offset PostgreSQL would refuse as such is read as the moment it names.
    far_east = (timezone.now() - timedelta(days=1)).astimezone(timedelta_zone(21, 25))
    assert len(ids_of(reader.get("/api/results/", {"created_after": far_east.isoformat()}))) == 3


def test_it_filters_the_other_resources(reader, world):
    assert ids_of(reader.get(f"/api/models/?dataset={world.digits.pk}&baseline=false")) == [
        world.lenet_b.pk
    ]
    assert ids_of(reader.get("/api/models/?architecture=alexnet")) == [world.alexnet.pk]
    assert ids_of(reader.get("/api/devices/?kind=ssh")) == [world.jetson.pk]
    techniques = reader.get("/api/techniques/?category=pruning").json()["results"]
    codes = [t["code"] for t in techniques]
    assert codes == ["W3"]
    artifacts = ids_of(reader.get(f"/api/artifacts/?model={world.alexnet.pk}"))
    assert artifacts == [world.results["alex"].artifact_id]


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("model=abc", "model"),
        ("model=0", "model"),
        ("model=99999999999999999999999", "model"),
        ("threads=0", "threads"),
        ("category=magic", "category"),
        ("status=exploded", "status"),
        ("technique=W3!", "technique"),
        ("created_after=yesterday", "created_after"),
        ("created_after=2025-02-30", "created_after"),
        ("created_after=2025-01-01&created_after=2025-02-01", "created_after"),
        ("created_before=0001-01-01T00:00:00%2B05:00", "created_before"),
        ("ordering=colour", "ordering"),
        ("page=abc", "page"),
        ("page_size=0", "page_size"),
        ("page_size=100000", "page_size"),
        ("modle=1", "modle"),
        ("source_label=a%00b", "source_label"),
    ],
)
def test_it_answers_a_bad_parameter_with_a_400_naming_it(reader, world, query, parameter):
    response = reader.get(f"/api/results/?{query}")
    assert response.status_code == 400
    assert parameter in response.json()


def test_it_orders_by_a_figure_either_way_with_missing_figures_last(reader, world):
    r = world.results
    Result.objects.filter(pk=r["alex"].pk).update(latency_mean_ms=None)
    ascending = ids_of(reader.get("/api/results/?ordering=latency"))
    assert ascending == [r["int8"].pk, r["pruned"].pk, r["base"].pk, r["alex"].pk]
    descending = ids_of(reader.get("/api/results/?ordering=-latency"))
    assert descending == [r["base"].pk, r["pruned"].pk, r["int8"].pk, r["alex"].pk]
    by_device = ids_of(reader.get("/api/results/?ordering=device,-accuracy"))
    assert by_device == [r["int8"].pk, r["alex"].pk, r["base"].pk, r["pruned"].pk]


def test_it_paginates_with_a_chosen_page_size(reader, world):
    first = reader.get("/api/results/?ordering=id&page_size=3").json()
    second = reader.get("/api/results/?ordering=id&page_size=3&page=2").json()
    assert first["count"] == 4 and len(first["results"]) == 3 and first["next"]
    assert len(second["results"]) == 1 and second["next"] is None
    assert reader.get("/api/results/?page=9").status_code == 404


def test_it_shows_each_detail_and_a_technique_by_code(reader, world):
    assert reader.get("/api/techniques/Q-int8/").json()["category"] == "quantization"
    plan = reader.get(f"/api/plans/{world.pruned_int8.pk}/").json()
    assert plan["techniques"] == ["W3", "Q-int8"] and plan["is_baseline"] is False
    job = reader.get(f"/api/jobs/{world.jobs['int8'].pk}/").json()
    assert job["model"] == "lenet" and job["plan"] == world.pruned_int8.canonical
    assert job["device_name"] == "jetson-tx2" and job["num_threads"] == 4 and "log" in job
    device = reader.get(f"/api/devices/{world.jetson.pk}/").json()
    assert device["address"] == "nvidia@tx2" and device["mains_powered"] is True
    model = reader.get(f"/api/models/{world.lenet.pk}/").json()
    assert model["dataset_name"] == "digits"
    assert reader.get("/api/results/123456/").status_code == 404


def test_it_reads_results_in_a_bounded_number_of_queries(reader, world, django_assert_num_queries):
    # The token's user, one count and one joined select, however many results the page holds.
    with django_assert_num_queries(3):
        assert reader.get("/api/results/").status_code == 200
