"""The result page: figures with CI and method, provenance, operator diff, the verdict."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.base import ContentFile

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

pytestmark = pytest.mark.django_db
HOST = {"runtime": "LiteRT", "kernel": "6.1.0", "cpu_model": "Cortex-A57", "governor": None}


@pytest.fixture
def viewer():
    return logged_in()


def driver_breakdown(ops: list[tuple[str, float]]) -> dict:
    """op_breakdown as device_runner/drivers/child.py writes it."""
    by_type: dict[str, dict] = {}
    for kind, ms in ops:
        entry = by_type.setdefault(kind, {"ms": 0.0, "count": 0})
        entry["ms"] += ms
        entry["count"] += 1
    return {
        "method": "measured: each operator timed alone",
        "sum_ms": sum(ms for _, ms in ops),
        "by_type": by_type,
        "ops": [
            {"index": i, "type": kind, "mean_ms": ms, "stable": True}
            for i, (kind, ms) in enumerate(ops)
        ],
    }


@pytest.fixture
def pair():
    """A W1f result (one more dense op) and its baseline on the same phone."""
    catalogue()
    model, phone = make_model(), make_device(name="phone")
    static = {"file_size": 40_000, "gzip_size": 36_000, "sp_bits": 8000, "macs": 5000}
    base_art = artifact(model, baseline_plan(), accuracy=0.95, **static)
    w1f = artifact(
        model,
        plan("W1f(k=4)@fc1", [step("W1f", ("fc1",), k=4)]),
        accuracy=0.93,
        file_size=20_000,
        gzip_size=18_000,
        sp_bits=4000,
        macs=2500,
        params=1234,
    )
    base = measure(
        base_art,
        phone,
        latency_mean_ms=10.0,
        latency_ci95_ms=0.5,
        provenance=HOST,
        op_breakdown=driver_breakdown(
            [
                ("CONV_2D", 0.5),
                ("MAX_POOL_2D", 0.1),
                ("FULLY_CONNECTED", 0.3),
                ("FULLY_CONNECTED", 0.2),
            ]
        ),
    )
    result = measure(
        w1f,
        phone,
        latency_mean_ms=5.0,
        latency_ci95_ms=0.2,
        runs=1234,
        stop_reason="ci_reached",
        stable=False,
        energy_mj=0.75,
        energy_method="estimated (AdaDeep eq. 5)",
        peak_memory_bytes=3 * 1024 * 1024,
        provenance={**HOST, "kernel": "6.2.0", "protocol": {"level": 0.95}},
        op_breakdown=driver_breakdown(
            [
                ("CONV_2D", 0.5),
                ("MAX_POOL_2D", 0.1),
                ("FULLY_CONNECTED", 0.1),
                ("FULLY_CONNECTED", 0.05),
                ("FULLY_CONNECTED", 0.2),
            ]
        ),
    )
    return {"result": result, "baseline": base}


def table_rows(body: str, table_id: str) -> list[list[str]]:
    """Cell texts of each body row of the table ``table_id``."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', body, re.S)
    assert table, f"no table {table_id!r}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
        for r in rows
    ]


def test_it_shows_every_figure_with_its_unit_ci_and_method(viewer, pair):
    body = viewer.get(f"/results/{pair['result'].pk}/").content.decode()
    assert "5.00 ms" in body and "± 0.200 ms (95 % CI)" in body
    assert "1,234" in body and "stopped: ci_reached" in body
    assert "the CI rule was not met" in body  # stable = False said plainly
    assert "0.750 mJ" in body and "estimated (AdaDeep eq. 5)" in body
    assert "3.15 MB" in body  # peak memory, 3 x 1024 x 1024 bytes
    assert "93.0 %" in body and "2,500 MACs" in body and "20.0 kB" in body
    assert "<code>W1f</code>" in body and "k=4" in body and "fc1" in body  # the plan's step
    assert_clean(body)


def test_it_lists_the_provenance_and_what_differs_from_the_baseline(viewer, pair):
    body = viewer.get(f"/results/{pair['result'].pk}/").content.decode()
    provenance = dict((k, v) for k, v in (r[:2] for r in _th_td(body, "provenance")))
    assert provenance["kernel"] == "6.2.0" and provenance["governor"] == "—"
    assert html.unescape(provenance["protocol"]) == '{"level": 0.95}'
    assert table_rows(body, "not-comparable") == [["kernel", "6.2.0", "6.1.0"]]


def _th_td(body: str, table_id: str) -> list[tuple[str, str]]:
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', body, re.S).group(0)
    pairs = re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", table, re.S)
    return [tuple(re.sub(r"<[^>]+>", "", x).strip() for x in p) for p in pairs]


def test_it_says_whether_the_compression_is_really_faster_and_smaller(viewer, pair):
    body = viewer.get(f"/results/{pair['result'].pk}/").content.decode()
    low, high = (10 - 0.5) / (5 + 0.2), (10 + 0.5) / (5 - 0.2)
    assert f"Really faster (2.00× [{low:.2f}×–{high:.2f}×]); smaller than the baseline." in body
    assert f'href="/results/{pair["baseline"].pk}/"' in body


def test_it_diffs_operator_types_against_the_baseline(viewer, pair):
    body = viewer.get(f"/results/{pair['result'].pk}/").content.decode()
    rows = {r[0]: r for r in table_rows(body, "type-diff")}
    assert rows["FULLY_CONNECTED"] == [
        "FULLY_CONNECTED",
        "0.5000 ms",
        "0.3500 ms",
        f"{0.35 - 0.5:+.4f} ms",
        "2 → 3",
    ]
    assert rows["CONV_2D"][3] == "+0.0000 ms"
    figure = embedded_json(body, "ops-figure")
    bars = {t["name"]: dict(zip(t["y"], t["x"], strict=True)) for t in figure["data"]}
    assert bars["baseline"]["FULLY_CONNECTED"] == pytest.approx(0.5)
    assert bars["this result"]["FULLY_CONNECTED"] == pytest.approx(0.35)
    assert "ms" in figure["layout"]["xaxis"]["title"]["text"]


def test_it_aligns_the_operators_and_shows_the_one_the_compression_added(viewer, pair):
    body = viewer.get(f"/results/{pair['result'].pk}/").content.decode()
    rows = table_rows(body, "op-diff")
    assert [r[-1] for r in rows] == ["same type"] * 4 + ["added"]
    assert rows[-1][0] == "—" and rows[-1][2] == "#4 FULLY_CONNECTED"
    assert rows[2][4] == f"{0.1 - 0.3:+.4f} ms"


def test_it_reads_an_imported_per_type_breakdown_and_says_what_is_missing(viewer, pair):
    pair["result"].op_breakdown = {"CONV_2D": 0.4, "FULLY_CONNECTED": 0.6}
    pair["result"].save()
    body = viewer.get(f"/results/{pair['result'].pk}/").content.decode()
    rows = {r[0]: r for r in table_rows(body, "type-diff")}
    assert rows["MAX_POOL_2D"][2] == "absent"
    assert rows["FULLY_CONNECTED"][3] == f"{0.6 - 0.5:+.4f} ms"
    assert "imported results usually carry per-type times only" in body
    assert_clean(body)


def test_it_says_what_to_do_without_a_baseline_or_a_breakdown(viewer):
    catalogue()
    result = measure(artifact(make_model(), plan("W3", [step("W3")]), accuracy=0.9), make_device())
    body = viewer.get(f"/results/{result.pk}/").content.decode()
    assert "No baseline measured on this device" in body and "/jobs/new/" in body
    assert "No operator breakdown was recorded for this result." in body
    assert "No file stored for this artifact" in body
    assert_clean(body)


def test_it_offers_the_files_and_the_job_log(viewer, pair):
    art = pair["result"].artifact
    art.tflite_file.save("w1f.tflite", ContentFile(b"TFL3"), save=False)
    art.keras_file.save("w1f.keras", ContentFile(b"PK"), save=True)
    job = pair["result"].job
    job.log = "pushed artifact\nmeasured 1234 runs"
    job.save()
    body = viewer.get(f"/results/{pair['result'].pk}/").content.decode()
    assert f'href="{art.tflite_file.url}" download' in body
    assert f'href="{art.keras_file.url}" download' in body
    assert "measured 1234 runs" in body


def test_it_says_a_baseline_is_the_baseline(viewer, pair):
    body = viewer.get(f"/results/{pair['baseline'].pk}/").content.decode()
    assert "This is the uncompressed baseline" in body
    assert "no compression step" in body
    assert_clean(body)


def test_it_answers_404_for_an_unknown_result(viewer):
    assert viewer.get("/results/999999/").status_code == 404


def test_it_says_beside_the_accuracy_when_a_compression_did_not_recover(viewer, pair):
    artifact = pair["result"].artifact
    url = f"/results/{pair['result'].pk}/"
    assert "did-not-recover" not in viewer.get(url).content.decode()
    artifact.static_metrics = {
        "recovery": {
            "baseline_accuracy": 0.97,
            "gap_points": 12.5,
            "threshold_points": 3.0,
            "recovered": False,
        }
    }
    artifact.save()
    body = viewer.get(url).content.decode()
    assert "Did not recover" in body and "12.5 points below the model it started from" in body
    model_page = viewer.get(f"/models/{artifact.model_id}/").content.decode()
    assert "did not recover: −12.5 pts" in model_page
    api = viewer.get(f"/api/artifacts/{artifact.pk}/").json()
    assert api["accuracy_shortfall"] == 12.5
