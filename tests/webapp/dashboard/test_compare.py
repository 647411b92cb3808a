"""The compare page and its CSV: normalised to the baseline, the real-speedup check, sorting."""

from __future__ import annotations

import csv
import io

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
    row_ids,
    step,
)
from webapp.dashboard.analysis import compare

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer():
    return logged_in()


@pytest.fixture
def world():
    """A baseline and three compressions on one phone: one faster, one unclear, one worse."""
    catalogue()
    model, phone = make_model(), make_device(name="phone")
    static = {"sp_bits": 8000, "macs": 4000, "file_size": 40_000, "gzip_size": 36_000}
    base = artifact(model, baseline_plan(), accuracy=0.95, **static)
    c2 = artifact(
        model,
        plan("C2@conv2", [step("C2", ("conv2",))]),
        accuracy=0.93,
        sp_bits=2000,
        macs=1000,
        file_size=10_000,
        gzip_size=9000,
    )
    w3 = artifact(model, plan("W3@fc1", [step("W3", ("fc1",))]), accuracy=0.94, **static)
    w3.gzip_size = 20_000
    w3.save()
    cl = artifact(
        model,
        plan("Cl@fc1", [step("Cl", ("fc1",))]),
        accuracy=0.96,
        sp_bits=None,
        macs=4000,
        file_size=41_000,
        gzip_size=37_000,
    )
    rows = {
        "base": measure(base, phone, latency_mean_ms=10.0, latency_ci95_ms=0.5, energy_mj=4.0),
        "c2": measure(c2, phone, latency_mean_ms=5.0, latency_ci95_ms=0.2, energy_mj=1.0),
        "w3": measure(w3, phone, latency_mean_ms=10.1, latency_ci95_ms=0.5, energy_mj=4.0),
        "cl": measure(cl, phone, latency_mean_ms=14.0, latency_ci95_ms=0.5, energy_mj=5.0),
    }
    return {"model": model, "phone": phone, **rows}


def approx6(value: float):
    """The CSV keeps six significant digits."""
    return pytest.approx(value, rel=1e-5)


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_it_normalises_each_compression_to_the_baseline_on_the_same_device(viewer, world):
    rows = {r["plan"]: r for r in read_csv(viewer.get("/compare.csv"))}
    assert set(rows) == {"C2@conv2", "W3@fc1", "Cl@fc1"}  # not the baseline itself
    c2 = rows["C2@conv2"]
    assert int(c2["baseline_result_id"]) == world["base"].pk
    assert float(c2["accuracy_loss_points"]) == approx6((0.95 - 0.93) * 100)
    assert float(c2["sp_reduction_x"]) == approx6(8000 / 2000)
    assert float(c2["macs_reduction_x"]) == approx6(4000 / 1000)
    assert float(c2["speedup_x"]) == approx6(10.0 / 5.0)
    assert float(c2["energy_reduction_x"]) == approx6(4.0 / 1.0)
    assert float(c2["file_size_reduction_x"]) == approx6(40_000 / 10_000)
    assert float(rows["Cl@fc1"]["accuracy_loss_points"]) == approx6(-1.0)  # a gain
    assert rows["Cl@fc1"]["sp_reduction_x"] == ""  # unknown Sp: an empty cell, not nan


def test_it_bounds_the_speedup_from_both_confidence_intervals(viewer, world):
    rows = {r["plan"]: r for r in read_csv(viewer.get("/compare.csv"))}
    c2, w3, cl = rows["C2@conv2"], rows["W3@fc1"], rows["Cl@fc1"]
    # Interval arithmetic on the two 95 % CIs: [(b - hb) / (c + hc), (b + hb) / (c - hc)].
    assert float(c2["speedup_low_x"]) == approx6((10.0 - 0.5) / (5.0 + 0.2))
    assert float(c2["speedup_high_x"]) == approx6((10.0 + 0.5) / (5.0 - 0.2))
    assert c2["latency_verdict"] == "faster"
    assert w3["latency_verdict"] == "no clear difference"  # 1.01x but the interval spans 1
    assert float(cl["speedup_high_x"]) == approx6(10.5 / 13.5)
    assert cl["latency_verdict"] == "slower"


def test_it_flags_compressions_that_made_the_model_slower_or_no_smaller(viewer, world):
    rows = {r["plan"]: r for r in read_csv(viewer.get("/compare.csv"))}
    assert rows["C2@conv2"]["size_verdict"] == "smaller" and rows["C2@conv2"]["flags"] == ""
    assert rows["W3@fc1"]["size_verdict"] == "smaller only gzipped"
    assert rows["W3@fc1"]["flags"] == ""
    assert rows["Cl@fc1"]["size_verdict"] == "no smaller"
    assert rows["Cl@fc1"]["flags"] == "slower than the baseline; no smaller than the baseline"
    body = viewer.get("/compare/").content.decode()
    assert f'<tr data-result-id="{world["cl"].pk}" class="flagged">' in body
    assert "⚠ slower than the baseline" in body and "⚠ no smaller than the baseline" in body
    assert "2.00× [1.83×–2.19×]" in body  # C2's speedup and its interval, as printed
    assert_clean(body)


def test_it_leaves_out_results_without_a_baseline_at_the_same_thread_count(viewer, world):
    measure(world["c2"].artifact, world["phone"], threads=2, latency_mean_ms=3.0)
    body = viewer.get("/compare/", {"threads": 2}).content.decode()
    assert 'id="compare-table"' not in body  # the 1-thread baseline is not used at 2 threads
    assert "1 compressed result has no baseline measured on the same device" in body
    assert "/jobs/new/" in body
    assert_clean(body)


def test_it_sorts_on_the_server_with_missing_values_last(viewer, world):
    c2, w3, cl = world["c2"].pk, world["w3"].pk, world["cl"].pk
    body = viewer.get("/compare/", {"sort": "-sp"}).content.decode()
    assert row_ids(body, "compare-table") == [c2, w3, cl]  # Cl has no Sp: last
    body = viewer.get("/compare/", {"sort": "sp"}).content.decode()
    assert row_ids(body, "compare-table") == [w3, c2, cl]  # still last when ascending
    body = viewer.get("/compare/", {"sort": "-speedup"}).content.decode()
    assert row_ids(body, "compare-table") == [c2, w3, cl]
    assert 'href="?sort=speedup"' in body  # clicking the current column reverses it


def test_it_downloads_the_same_rows_in_the_same_order_as_the_page(viewer, world):
    query = {"sort": "loss"}
    page_ids = row_ids(viewer.get("/compare/", query).content.decode(), "compare-table")
    download = viewer.get("/compare.csv", query)
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    assert [int(r["result_id"]) for r in read_csv(download)] == page_ids
    same = viewer.get("/compare/", {**query, "format": "csv"})
    assert same.content == download.content


def test_it_pages_the_table_but_not_the_csv(viewer, world, monkeypatch):
    monkeypatch.setattr(compare, "PAGE_SIZE", 2)
    first = row_ids(viewer.get("/compare/").content.decode(), "compare-table")
    second = row_ids(viewer.get("/compare/", {"page": 2}).content.decode(), "compare-table")
    assert len(first) == 2 and len(second) == 1 and not set(first) & set(second)
    assert len(read_csv(viewer.get("/compare.csv", {"page": 2}))) == 3


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"sort": "colour"}, "sort must be one of"),
        ({"page": "last"}, "page must be a positive whole number"),
        ({"model": "0"}, "model must be a positive whole number"),
        ({"threads": "many"}, "threads must be a whole number"),
    ],
)
def test_it_refuses_a_bad_parameter_with_a_400(viewer, world, query, named):
    for url in ("/compare/", "/compare.csv"):
        response = viewer.get(url, query)
        assert response.status_code == 400
        assert named in response.content.decode()


def test_it_says_what_to_do_when_no_baseline_was_measured(viewer):
    catalogue()
    model, phone = make_model(), make_device()
    measure(artifact(model, plan("W3", [step("W3")]), accuracy=0.9), phone)
    body = viewer.get("/compare/").content.decode()
    assert "queue the baseline plan" in body and "/jobs/new/" in body
    assert_clean(body)
    assert read_csv(viewer.get("/compare.csv")) == []
    header = viewer.get("/compare.csv").content.decode().splitlines()[0]
    assert header.split(",") == list(compare.records_columns())


def test_it_writes_counts_as_integers_and_figures_to_six_digits(viewer, world):
    text = viewer.get("/compare.csv").content.decode()
    c2 = next(r for r in csv.DictReader(io.StringIO(text)) if r["plan"] == "C2@conv2")
    assert c2["file_size_bytes"] == "10000" and c2["threads"] == "1"
    assert c2["speedup_low_x"] == f"{9.5 / 5.2:.6g}"
