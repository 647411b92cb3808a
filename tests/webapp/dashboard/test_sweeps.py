"""Sweeps: accuracy and size against W3 sparsity, latency against threads (seed 003 figs 3-6)."""

from __future__ import annotations

import pytest

from measurements.models import Artifact
from tests.factories import make_device, make_model
from tests.webapp.dashboard.helpers_analysis import (
    artifact,
    assert_clean,
    baseline_plan,
    catalogue,
    embedded_json,
    logged_in,
    measure,
    plan,
    step,
)
from webapp.dashboard.analysis.units import KB

pytestmark = pytest.mark.django_db
SPARSITIES = (0.2, 0.4, 0.6, 0.8)


@pytest.fixture
def viewer():
    return logged_in()


@pytest.fixture
def world():
    """A sparsity sweep alone and followed by Q-int8, and thread sweeps on one board."""
    catalogue()
    model, board = make_model(name="lenet"), make_device(name="board")
    base = artifact(model, baseline_plan(), accuracy=0.95, file_size=40_000, gzip_size=36_000)
    quant = artifact(
        model, plan("Q-int8", [step("Q-int8")]), accuracy=0.94, file_size=10_000, export_mode="int8"
    )
    for s in SPARSITIES:
        pruned = [step("W3", ("fc1",), s=s)]
        artifact(
            model,
            plan(f"W3(s={s})@fc1", pruned),
            accuracy=0.95 - s / 10,
            file_size=40_000,
            gzip_size=int(36_000 * (1 - s)),
        )
        artifact(
            model,
            plan(f"W3(s={s})@fc1 + Q-int8", [*pruned, step("Q-int8")]),
            accuracy=0.94 - s / 10,
            file_size=10_000,
            gzip_size=int(9_000 * (1 - s)),
            export_mode="int8",
        )
    artifact(model, plan("W3@fc1", [step("W3", ("fc1",))]), accuracy=0.5)  # threshold: no s
    latency = {}
    for threads in (1, 2, 3, 4):
        latency[("base", threads)] = measure(
            base, board, threads, latency_mean_ms=100 / threads, latency_ci95_ms=1.0
        )
        latency[("quant", threads)] = measure(quant, board, threads, latency_mean_ms=60 / threads)
    latency[("base", 2)] = measure(base, board, 2, latency_mean_ms=55.0, latency_ci95_ms=2.0)
    pruned_float = Artifact.objects.get(plan__canonical="W3(s=0.2)@fc1")
    measure(pruned_float, board, 1, latency_mean_ms=99.0)  # float32 compression: not shown
    return {"model": model, "board": board, "latency": latency}


def test_it_plots_accuracy_against_sparsity_from_the_unpruned_plan(viewer, world):
    body = viewer.get("/sweeps/").content.decode()
    lines = {t["name"]: t for t in embedded_json(body, "sparsity-accuracy")["data"]}
    assert set(lines) == {"lenet: W3(s=·)@fc1", "lenet: W3(s=·)@fc1 + Q-int8"}
    alone, quantized = lines["lenet: W3(s=·)@fc1"], lines["lenet: W3(s=·)@fc1 + Q-int8"]
    assert alone["x"] == pytest.approx([0, 20, 40, 60, 80])  # percent of weights zeroed
    assert alone["y"] == pytest.approx([95.0] + [(0.95 - s / 10) * 100 for s in SPARSITIES])
    assert quantized["y"][0] == pytest.approx(94.0)  # s = 0 is Q-int8 alone
    assert_clean(body)


def test_it_plots_file_and_gzip_size_against_sparsity(viewer, world):
    body = viewer.get("/sweeps/").content.decode()
    figure = embedded_json(body, "sparsity-size")
    lines = {t["name"]: t for t in figure["data"]}
    assert "kB" in figure["layout"]["yaxis"]["title"]["text"]
    assert lines["lenet: W3(s=·)@fc1 — .tflite"]["y"] == pytest.approx([40_000 / KB] * 5)
    gzip = lines["lenet: W3(s=·)@fc1 — gzip -9"]["y"]
    assert gzip == pytest.approx([36_000 / KB] + [int(36_000 * (1 - s)) / KB for s in SPARSITIES])


def test_it_plots_latency_against_threads_for_the_baseline_and_quantized_models(viewer, world):
    body = viewer.get("/sweeps/", {"device": world["board"].pk}).content.decode()
    lines = {t["name"]: t for t in embedded_json(body, "threads-1")["data"]}
    assert set(lines) == {"baseline (float32)", "Q-int8 (int8)"}  # not the float32 W3
    base = lines["baseline (float32)"]
    assert base["x"] == [1, 2, 3, 4]
    assert base["y"] == pytest.approx([100.0, 55.0, 100 / 3, 25.0])  # the newest at 2 threads
    assert base["error_y"]["array"] == pytest.approx([1.0, 2.0, 1.0, 1.0])
    assert base["customdata"][1] == world["latency"][("base", 2)].pk
    assert lines["Q-int8 (int8)"]["y"] == pytest.approx([60 / n for n in (1, 2, 3, 4)])
    assert_clean(body)


def test_it_says_what_to_queue_when_there_is_no_sweep(viewer):
    catalogue()
    model, board = make_model(), make_device()
    measure(artifact(model, plan("C2", [step("C2")]), accuracy=0.9), board)
    body = viewer.get("/sweeps/").content.decode()
    assert "W3(s=0.2)" in body and "/jobs/new/" in body
    assert "No baseline or quantized result on this device yet" in body
    assert_clean(body)


def test_it_refuses_a_bad_device_with_a_400(viewer, world):
    response = viewer.get("/sweeps/", {"device": "1,2"})
    assert response.status_code == 400
    assert "device takes one id" in response.content.decode()
