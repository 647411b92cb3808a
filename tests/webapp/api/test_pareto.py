"""The Pareto endpoint: the non-dominated results for a metric pair and the filters."""

from __future__ import annotations

import pytest

from measurements.models import Result

pytestmark = pytest.mark.django_db


def front_ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["front"]]


def test_it_returns_the_latency_accuracy_front_ordered_by_latency(reader, world):
    r = world.results
    # By hand: alex (9.0 ms, 0.80) is beaten by base (2.0 ms, 0.98) on both axes;
    # int8 (0.7, 0.90), pruned (1.5, 0.97) and base (2.0, 0.98) each trade one for the other.
    response = reader.get("/api/pareto?x=latency&y=accuracy")
    assert front_ids(response) == [r["int8"].pk, r["pruned"].pk, r["base"].pk]
    body = response.json()
    assert body["candidates"] == 4
    assert body["x"]["goal"] == "min" and body["y"]["goal"] == "max"
    assert body["front"][0]["latency"]["mean_ms"] == 0.7


def test_it_uses_latency_and_accuracy_by_default(reader, world):
    explicit = front_ids(reader.get("/api/pareto?x=latency&y=accuracy"))
    assert front_ids(reader.get("/api/pareto")) == explicit


def test_it_crosses_to_the_artifact_for_size_and_leaves_out_missing_figures(reader, world):
    r = world.results
    Result.objects.filter(pk=r["int8"].pk).update(energy_mj=None)
    response = reader.get("/api/pareto?x=size&y=energy")
    # Sizes 240k/120k/900k with energies 5/4/30: pruned beats base and alex on both.
    assert front_ids(response) == [r["pruned"].pk]
    assert response.json()["candidates"] == 3


def test_it_applies_the_result_filters(reader, world):
    r = world.results
    on_jetson = reader.get(f"/api/pareto?device={world.jetson.pk}&x=energy&y=accuracy")
    # On the Jetson: int8 (1 mJ, 0.90) and alex (30 mJ, 0.80): alex is dominated.
    assert front_ids(on_jetson) == [r["int8"].pk]


@pytest.mark.parametrize(
    "query, parameter",
    [("x=speed", "x"), ("y=beauty", "y"), ("x=latency&y=latency", "y"), ("device=a", "device")],
)
def test_it_answers_a_bad_metric_or_filter_with_a_400_naming_it(reader, world, query, parameter):
    response = reader.get(f"/api/pareto?{query}")
    assert response.status_code == 400 and parameter in response.json()
