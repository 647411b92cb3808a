"""The columnar compare (arrays, one sort) writes what the per-row objects would, byte for byte.

The oracle below is the page's former way: one ``queries.Normalised`` per
row, sorted as objects, written by pandas. Random results made here cover
what the arrays must treat as the objects do: missing figures on either
side, confidence intervals missing or reaching zero (unbounded speedups),
ties, imported and estimated figures, names a spreadsheet would run.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pandas as pd
import pytest

from measurements.models import Device, DNNModel, Result
from tests.factories import make_dataset, make_device, make_model
from tests.webapp.dashboard.helpers_analysis import (
    artifact,
    baseline_plan,
    catalogue,
    logged_in,
    plan,
    row_ids,
    step,
)
from webapp.api.export import escape_formula
from webapp.dashboard.analysis import compare, queries

pytestmark = pytest.mark.django_db

CODES = ("W1f", "W3", "C2", "Cl", "Q-int8")


def maybe(rng: random.Random, value: Any, missing: float) -> Any:
    return None if rng.random() < missing else value


def random_world(seed: int) -> None:
    """Two models on one dataset, three devices, two thread counts, 13 plans, gaps everywhere."""
    catalogue()
    rng = random.Random(seed)
    dataset = make_dataset()
    models = [make_model(name=n, dataset=dataset) for n in ("=sum(A1)", "lenet")]
    devices = [make_device(name=n) for n in ("phone", "+board", "pi")]
    plans = [baseline_plan()] + [
        plan(f"{code}@fc{i}", [step(code, (f"fc{i}",))] + [step("Q-int8")] * (i % 2))
        for i, code in enumerate(CODES * 3)
    ][:12]
    for model in models:
        for the_plan in plans:
            statics = {
                name: maybe(rng, rng.choice((1000, 2000, 4000, 8000)), 0.15)
                for name in ("sp_bits", "macs", "file_size", "gzip_size")
            }
            art = artifact(model, the_plan, accuracy=0.9, **statics)
            for device in devices:
                for threads in (1, 2):
                    for _ in range(rng.choice((0, 1, 1, 1, 2))):
                        Result.objects.create(
                            artifact=art, device=device, num_threads=threads, **figures(rng)
                        )


def figures(rng: random.Random) -> dict[str, Any]:
    latency = rng.choice((2.0, 4.0, 5.0, 8.0, rng.uniform(1, 10)))
    imported = rng.random() < 0.2
    return {
        "latency_mean_ms": maybe(rng, latency, 0.1),
        "latency_ci95_ms": maybe(rng, latency * rng.choice((0.01, 0.3, 1.0, 1.5)), 0.2),
        "energy_mj": maybe(rng, rng.choice((1.0, 2.0, rng.uniform(0.1, 9))), 0.3),
        "energy_measured": rng.random() < 0.5,
        "energy_method": rng.choice(("", "rapl", "measured (rapl)", "TDP x latency")),
        "accuracy": maybe(rng, rng.choice((0.5, 0.9, 0.95, 0.951)), 0.1),
        "source": Result.Source.IMPORTED if imported else Result.Source.MEASURED,
        "source_label": rng.choice(("Smith 2024", "")) if imported else "",
    }


def per_row_csv(key: str, descending: bool) -> tuple[str, int]:
    """The oracle: the CSV built from one Normalised object per row, and the rows left out."""
    base = queries.baselines(Result.objects.all())
    found = list(
        Result.objects.exclude(artifact__plan__canonical="baseline").values(*queries.ROW_FIELDS)
    )
    info = queries.plans({r["artifact__plan_id"] for r in found})
    models = dict(DNNModel.objects.values_list("pk", "name"))
    devices = dict(Device.objects.values_list("pk", "name"))
    rows = [
        (queries.normalise(r, base[queries.key(r)]), info[r["artifact__plan_id"]])
        for r in found
        if queries.key(r) in base
    ]
    value = {
        "model": lambda n, p: models[n.row["artifact__model_id"]],
        "plan": lambda n, p: p.canonical,
        "device": lambda n, p: devices[n.row["device_id"]],
        "threads": lambda n, p: n.row["num_threads"],
        "accuracy": lambda n, p: n.row["accuracy"],
        "loss": lambda n, p: n.accuracy_loss,
        "sp": lambda n, p: n.sp,
        "macs": lambda n, p: n.macs,
        "speedup": lambda n, p: n.latency.value if n.latency else None,
        "energy": lambda n, p: n.energy,
        "file": lambda n, p: n.file,
        "gzip": lambda n, p: n.gzip,
    }[key]
    known = sorted((r for r in rows if value(*r) is not None), key=lambda r: r[0].row["pk"])
    known.sort(key=lambda r: value(*r), reverse=descending)
    missing = sorted((r for r in rows if value(*r) is None), key=lambda r: r[0].row["pk"])
    records = [record(n, p, models, devices) for n, p in known + missing]
    frame = pd.DataFrame.from_records(records, columns=list(compare.records_columns()))
    integers = ("result_id", "baseline_result_id", "threads", "file_size_bytes", "gzip_size_bytes")
    frame = frame.astype(dict.fromkeys(integers, "Int64"))
    for column in ("model", "plan", "device", "figures_source", "baseline_figures_source"):
        frame[column] = frame[column].map(escape_formula)
    return frame.to_csv(index=False, float_format="%.6g"), len(found) - len(rows)


def record(n: queries.Normalised, p: queries.PlanInfo, models: dict, devices: dict) -> dict:
    row, base, interval = n.row, n.base, n.latency

    def pct(v: Any) -> Any:
        return v * 100 if v is not None and math.isfinite(v) else None

    has_ci = interval is not None and interval.has_ci
    high = (math.inf if interval.high is None else interval.high) if has_ci else None
    return {
        "result_id": row["pk"], "baseline_result_id": base["pk"],
        "model": models[row["artifact__model_id"]], "plan": p.canonical, "category": p.group,
        "device": devices[row["device_id"]], "threads": row["num_threads"],
        "accuracy_pct": pct(row["accuracy"]), "baseline_accuracy_pct": pct(base["accuracy"]),
        "accuracy_loss_points": n.accuracy_loss, "sp_reduction_x": n.sp,
        "macs_reduction_x": n.macs, "latency_mean_ms": row["latency_mean_ms"],
        "latency_ci95_ms": row["latency_ci95_ms"],
        "baseline_latency_mean_ms": base["latency_mean_ms"],
        "baseline_latency_ci95_ms": base["latency_ci95_ms"],
        "speedup_x": interval.value if interval else None,
        "speedup_low_x": interval.low if has_ci else None, "speedup_high_x": high,
        "latency_verdict": interval.verdict if interval else None,
        "energy_mj": row["energy_mj"], "energy_method": queries.energy_label(row),
        "baseline_energy_mj": base["energy_mj"], "energy_reduction_x": n.energy,
        "file_size_bytes": row["artifact__file_size"],
        "gzip_size_bytes": row["artifact__gzip_size"],
        "file_size_reduction_x": n.file, "gzip_size_reduction_x": n.gzip,
        "size_verdict": n.size_verdict, "flags": "; ".join(n.flags),
        "figures_source": queries.figures_source(row),
        "baseline_figures_source": queries.figures_source(base),
    }  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2])
def test_it_writes_the_per_row_figures_in_the_per_row_order_for_every_sort(seed):
    random_world(seed)
    viewer = logged_in()
    for key in compare.SORTS:
        for descending in (False, True):
            sort = f"-{key}" if descending else key
            got = viewer.get("/compare.csv", {"threads": "all", "sort": sort}).content.decode()
            expected, left_out = per_row_csv(key, descending)
            assert got == expected, sort
    assert left_out > 0 and got.count("\n") > 100  # rows with and without baselines
    assert "inf" in got and "'=sum(A1)" in got and "imported (Smith 2024" in got


def test_it_shows_the_first_page_in_the_csvs_order(monkeypatch):
    random_world(3)
    monkeypatch.setattr(compare, "PAGE_SIZE", 7)
    viewer = logged_in()
    query = {"threads": "all", "sort": "-loss"}
    body = viewer.get("/compare/", query).content.decode()
    lines = per_row_csv("loss", True)[0].splitlines()[1:8]
    csv_ids = [int(line.split(",", 1)[0]) for line in lines]
    assert row_ids(body, "compare-table") == csv_ids
