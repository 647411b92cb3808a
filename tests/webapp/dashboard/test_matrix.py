"""The device matrix: best plan per device and technique under an objective (seed 004 table 7)."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_device, make_model
from tests.webapp.dashboard.helpers_analysis import (
    artifact,
    assert_clean,
    baseline_plan,
    catalogue,
    logged_in,
    measure,
    plan,
    step,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer():
    return logged_in()


@pytest.fixture
def world():
    """Four compressions on a phone (with its baseline) and one on a board (without)."""
    catalogue()
    model = make_model()
    phone, board = make_device(name="phone"), make_device(name="board")
    figures = {  # plan: (steps, accuracy, phone latency ms, file bytes)
        "C2@conv2": ([step("C2", ("conv2",))], 0.90, 6.0, 30_000),
        "W3@fc1": ([step("W3", ("fc1",))], 0.94, 9.0, 40_000),
        "C2@conv2 + W3@fc1": ([step("C2", ("conv2",)), step("W3", ("fc1",))], 0.85, 4.0, 20_000),
        "Q-int8": ([step("Q-int8")], 0.93, 5.0, 10_000),
    }
    base = artifact(model, baseline_plan(), accuracy=0.95, file_size=40_000, sp_bits=8000)
    results = {"baseline": measure(base, phone, latency_mean_ms=10.0)}
    for text, (steps, accuracy, latency, size) in figures.items():
        art = artifact(model, plan(text, steps), accuracy=accuracy, file_size=size, sp_bits=size)
        results[text] = measure(art, phone, latency_mean_ms=latency)
    results["board W3"] = measure(results["W3@fc1"].artifact, board, latency_mean_ms=20.0)
    return {"model": model, **results}


def matrix(body: str) -> tuple[list[str], dict[str, dict]]:
    """Column headings, and per device its cells' result ids (None when empty) and best id."""
    table = re.search(r'<table class="matrix" id="device-matrix">(.*?)</table>', body, re.S)
    assert table, "no matrix on the page"
    head = re.search(r"<thead>(.*?)</thead>", table.group(1), re.S).group(1)
    headings = re.findall(r'<th rowspan="2">([^<]*)</th>', head)[1:]  # after "Device"
    rows = {}
    for device, cells_html in re.findall(
        r'<tr data-device="([^"]+)">(.*?)</tr>', table.group(1), re.S
    ):
        cells = re.findall(r'<td class="cell[^"]*">(.*?)</td>', cells_html, re.S)
        ids = [re.search(r'data-result-id="(\d+)"', c) for c in cells]
        best = re.search(r'data-best-id="(\d+)"', cells_html)
        rows[device] = {
            "cells": dict(
                zip(headings, (int(m.group(1)) if m else None for m in ids), strict=True)
            ),
            "best": int(best.group(1)),
            "html": cells_html,
        }
    return headings, rows


def test_it_puts_the_fastest_plan_using_each_category_in_each_cell(viewer, world):
    body = viewer.get("/matrix/").content.decode()
    headings, rows = matrix(body)
    assert headings == ["convolution decomposition", "pruning", "quantization"]
    combo, q = world["C2@conv2 + W3@fc1"].pk, world["Q-int8"].pk
    assert rows["phone"]["cells"] == {
        "convolution decomposition": combo,  # 4 ms beats C2 alone at 6 ms
        "pruning": combo,
        "quantization": q,
    }
    assert rows["phone"]["best"] == combo
    assert rows["board"]["cells"] == {
        "convolution decomposition": None,
        "pruning": world["board W3"].pk,
        "quantization": None,
    }
    assert_clean(body)


def test_it_reports_the_best_plan_against_the_baseline_of_the_device(viewer, world):
    _, rows = matrix(viewer.get("/matrix/").content.decode())
    phone = rows["phone"]["html"]
    # C2 + W3: 10 ms -> 4 ms, Sp 8000 -> 20000 bits, accuracy 95 % -> 85 %.
    assert f"{10 / 4:.2f}×" in phone
    assert f"{8000 / 20_000:.3f}×" in phone
    assert "+10.0 pt" in phone
    assert "No baseline measured on this device" in rows["board"]["html"]


def test_it_drops_plans_under_the_accuracy_floor(viewer, world):
    _, rows = matrix(viewer.get("/matrix/", {"min_accuracy": "90"}).content.decode())
    assert rows["phone"]["cells"] == {
        "convolution decomposition": world["C2@conv2"].pk,
        "pruning": world["W3@fc1"].pk,
        "quantization": world["Q-int8"].pk,
    }
    assert rows["phone"]["best"] == world["Q-int8"].pk  # 5 ms, 93 %


def test_it_optimises_the_chosen_objective(viewer, world):
    _, rows = matrix(viewer.get("/matrix/", {"objective": "accuracy"}).content.decode())
    assert rows["phone"]["best"] == world["W3@fc1"].pk  # 94 %, the most accurate compression
    _, rows = matrix(viewer.get("/matrix/", {"objective": "size"}).content.decode())
    assert rows["phone"]["best"] == world["Q-int8"].pk  # 10,000 bytes
    assert "10.0 kB" in rows["phone"]["html"]  # 10,000 bytes


def test_it_can_use_technique_codes_as_columns(viewer, world):
    headings, rows = matrix(viewer.get("/matrix/", {"group": "code"}).content.decode())
    assert headings == ["C2", "Q-int8", "W3"]
    assert rows["phone"]["cells"]["C2"] == world["C2@conv2 + W3@fc1"].pk


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"objective": "speed"}, "objective must be one of latency, energy, size, accuracy"),
        ({"group": "family"}, "group must be one of category, code"),
        ({"min_accuracy": "-5"}, "min_accuracy cannot be negative"),
        ({"model": "1,2"}, "model takes one id"),
    ],
)
def test_it_refuses_a_bad_parameter_with_a_400(viewer, world, query, named):
    response = viewer.get("/matrix/", query)
    assert response.status_code == 400 and named in response.content.decode()


def test_it_says_what_to_do_when_nothing_reaches_the_accuracy_floor(viewer, world):
    body = viewer.get("/matrix/", {"min_accuracy": "99"}).content.decode()
    assert "lower the accuracy floor" in body and "/jobs/new/" in body
    assert_clean(body)


def test_it_says_how_each_energy_figure_was_obtained(viewer, world):
    result = world["Q-int8"]
    result.energy_mj, result.energy_measured = 0.5, True
    result.energy_method = "measured (Intel RAPL)"
    result.save()
    world["W3@fc1"].energy_mj = 2.0
    world["W3@fc1"].energy_method = "estimated (AdaDeep eq. 5)"
    world["W3@fc1"].save()
    _, rows = matrix(viewer.get("/matrix/", {"objective": "energy"}).content.decode())
    assert rows["phone"]["cells"]["quantization"] == result.pk
    assert "0.500 mJ</span> <small" in rows["phone"]["html"]
    assert "measured (Intel RAPL)" in rows["phone"]["html"]
    assert "estimated (AdaDeep eq. 5)" in rows["phone"]["html"]
