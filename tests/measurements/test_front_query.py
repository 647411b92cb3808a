"""The front over a queryset is pareto_front's, over the newest result of each plan."""

from __future__ import annotations

import math
import random

import pytest

from measurements.front_query import front_ids, sample_ids
from measurements.models import Result
from measurements.pareto import METRICS, pareto_front
from tests.factories import make_artifact, make_device, make_model, make_plan

pytestmark = pytest.mark.django_db


def test_it_matches_pareto_front_over_the_newest_result_of_each_plan():
    rng = random.Random(3)
    model = make_model()
    devices = [make_device(), make_device()]
    artifacts = [
        make_artifact(model=model, plan=make_plan(f"W3(s=0.{i})@fc1")) for i in range(1, 9)
    ]
    for _ in range(120):  # coarse values: ties and exact duplicates happen
        Result.objects.create(
            artifact=rng.choice(artifacts),
            device=rng.choice(devices),
            num_threads=rng.choice((1, 2)),
            latency_mean_ms=rng.choice((1.0, 2.0, 3.0, 4.0)),
            accuracy=rng.choice((0.5, 0.7, 0.9, None)),
        )
    x, y = METRICS["latency"], METRICS["accuracy"]
    newest: dict[tuple, Result] = {}
    for r in Result.objects.exclude(accuracy=None).order_by("pk"):
        newest[(r.artifact_id, r.device_id, r.num_threads)] = r
    kept = list(newest.values())
    for per_device in (False, True):
        found, candidates = front_ids(Result.objects.all(), x, y, per_device=per_device)
        groups = (
            [[r for r in kept if r.device_id == d.pk] for d in devices] if per_device else [kept]
        )
        expected = set()
        for group in groups:
            chosen = pareto_front([(r.latency_mean_ms, r.accuracy) for r in group], ["min", "max"])
            expected |= {group[i].pk for i in chosen}
        assert {pk for pk, _ in found} == expected and candidates == len(kept)
    assert set(sample_ids(Result.objects.all(), x, y, None)) == {r.pk for r in kept}
    sampled = sample_ids(Result.objects.all(), x, y, 2)
    assert 0 < len(sampled) <= 2 * 2 * len(devices) and set(sampled) <= {r.pk for r in kept}


def test_it_samples_the_newest_result_of_each_grid_cell_per_device():
    rng = random.Random(5)
    model = make_model()
    devices = [make_device(), make_device()]
    artifacts = [make_artifact(model=model, plan=make_plan(f"W1f(k={i})@fc1")) for i in range(30)]
    for _ in range(200):
        Result.objects.create(
            artifact=rng.choice(artifacts),
            device=rng.choice(devices),
            num_threads=1,
            latency_mean_ms=rng.uniform(1.0, 9.0),
            accuracy=rng.uniform(0.5, 0.9),
        )
    x, y = METRICS["latency"], METRICS["accuracy"]
    newest: dict[tuple, Result] = {}
    for r in Result.objects.order_by("pk"):
        newest[(r.artifact_id, r.device_id, r.num_threads)] = r
    kept = list(newest.values())
    grid = 3
    low_x, low_y = min(r.latency_mean_ms for r in kept), min(r.accuracy for r in kept)
    span_x = max(r.latency_mean_ms for r in kept) - low_x
    span_y = max(r.accuracy for r in kept) - low_y
    scale = grid * 0.999999
    cells: dict[tuple, int] = {}
    for r in kept:
        cell = (
            r.device_id,
            math.floor((r.latency_mean_ms - low_x) * scale / span_x),
            math.floor((r.accuracy - low_y) * scale / span_y),
        )
        cells[cell] = max(cells.get(cell, 0), r.pk)
    assert sorted(sample_ids(Result.objects.all(), x, y, grid)) == sorted(cells.values())
    assert max(cell[1] for cell in cells) == grid - 1  # the largest value is in the last cell
