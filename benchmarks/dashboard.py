"""Benchmark the analysis pages at a lab's scale: server time of the Pareto explorer and compare.

Loads ``--results`` results (100,000 by default) into the database named by
DATABASE_URL (PostgreSQL expected; migrations are applied first) with
``bulk_create``: ``--datasets`` datasets of two models each, ``--devices``
devices, thread counts 1 to 4, and as many plans per model as the count
needs (one is the baseline), so every (model, device, threads) has a
baseline. Then it times the pages in-process with Django's test ``Client``
(logged in; the time covers middleware, queries, Python and templates, not
the network): a warm-up request, then ``--repeat`` timed ones, and prints
the median, the number of SQL queries and their total time, each beside a
reference doing the same work the plain way, timed interleaved in the same
run. The pages keep what they read until a result changes
(``measurements.results_cache``): the median is that steady state, and the
"changed" column times the first request after a committed write to a
result, which reads everything afresh. Goals (issue 13): the Pareto page
under 200 ms with a filter spanning all results, ``/api/pareto`` under 150 ms
over all results, Compare under 200 ms and its CSV under 150 ms; the other
pages under 500 ms.

The rows hang off datasets, models and devices named ``bench-dashboard-…``;
they are deleted at the end unless ``--keep`` is given (a later run with
``--reuse`` then skips the load).

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/compresso_bench \\
        .venv/bin/python benchmarks/dashboard.py [--results 100000] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import math
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "bench-dashboard"
THREADS = (1, 2, 3, 4)
MODELS_PER_DATASET = 2
BATCH = 5000
# (code, category, parameter values): the plans are single steps and pairs of these.
CODES = (
    ("W1f", "weight factorization", (2, 4, 8, 16, 32)),
    ("W3", "pruning", (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)),
    ("C2", "convolution decomposition", (0.25, 0.5, 0.75)),
    ("L1", "layer architecture", (None,)),
    ("Cl", "clustering", (4, 8, 16, 32)),
    ("Q-int8", "quantization", (None,)),
    ("Q-dyn", "quantization", (None,)),
)
QUANTIZATION = ("Q-int8", "Q-dyn")


def setup_django(media_root: str) -> None:
    """Configure Django as production runs (DEBUG off), uploads in a scratch directory."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ["MEDIA_ROOT"] = media_root
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()


def plan_texts(count: int) -> list[tuple[str, list[dict]]]:
    """``count`` distinct plans: the baseline, single steps, then pairs of steps."""
    steps = []
    for code, _, values in CODES:
        for value in values:
            params = {} if value is None else {"k" if code != "W3" else "s": value}
            args = ", ".join(f"{k}={v}" for k, v in params.items())
            text = f"{code}({args})@fc1" if args else f"{code}@fc1"
            steps.append((text, {"code": code, "params": params, "targets": ["fc1"]}))
    plans = [("baseline", [])] + [(t, [s]) for t, s in steps]
    for (ta, sa), (tb, sb) in itertools.permutations(steps, 2):
        if len(plans) >= count:
            break
        if sa["code"] != sb["code"] and sa["code"] not in QUANTIZATION:  # quantization last
            plans.append((f"{ta} + {tb}", [sa, sb]))
    if len(plans) < count:
        raise SystemExit(f"Only {len(plans)} distinct plans; ask for fewer results per model.")
    return plans[:count]


def delete_rows() -> None:
    """Remove every row this benchmark created (results go with their artifacts)."""
    from measurements.models import Artifact, Dataset, Device, DNNModel

    Artifact.objects.filter(model__name__startswith=NAME).delete()
    DNNModel.objects.filter(name__startswith=NAME).delete()
    Dataset.objects.filter(name__startswith=NAME).delete()
    Device.objects.filter(name__startswith=NAME).delete()


def load(results: int, datasets: int, devices: int, seed: int) -> dict[str, int]:
    """Create the benchmark's rows; returns how many of each."""
    from measurements.models import Artifact, Dataset, Device, DNNModel, Plan, Technique

    rng = random.Random(seed)
    delete_rows()
    for code, category, _ in CODES:
        Technique.objects.get_or_create(
            code=code, defaults={"name": code, "category": category, "applies_to": "fc"}
        )
    sets = Dataset.objects.bulk_create(
        Dataset(name=f"{NAME}-{i}", input_shape=[8, 8, 1], num_classes=10, source="bundled")
        for i in range(datasets)
    )
    models = DNNModel.objects.bulk_create(
        DNNModel(name=f"{NAME}-{d.name[-1]}-{j}", architecture="lenet", dataset=d, file="x.keras")
        for d in sets
        for j in range(MODELS_PER_DATASET)
    )
    boards = Device.objects.bulk_create(
        Device(name=f"{NAME}-{i:02d}", kind="ssh") for i in range(devices)
    )
    per_model = math.ceil(results / (len(models) * len(boards) * len(THREADS)))
    plans = _plans(plan_texts(per_model), Plan)
    artifacts = Artifact.objects.bulk_create(_artifact(m, p, rng) for m in models for p in plans)
    created = _results(artifacts, boards, rng, results)
    _analyze()
    return {"datasets": len(sets), "models": len(models), "devices": len(boards),
            "plans": len(plans), "artifacts": len(artifacts), "results": created}  # fmt: skip


def _plans(texts: list[tuple[str, list[dict]]], plan_model: type) -> list:
    rows = []
    for text, steps in texts:
        digest = hashlib.sha256(text.encode()).hexdigest()
        row, _ = plan_model.objects.get_or_create(
            sha256=digest, defaults={"canonical": text, "steps": steps}
        )
        rows.append(row)
    return rows


def _artifact(model, plan, rng: random.Random):
    from measurements.models import Artifact

    size = rng.randint(20_000, 250_000)
    return Artifact(
        model=model,
        plan=plan,
        status="ready",
        export_mode=_export_mode(plan.canonical),
        params=size // 4,
        nonzero_params=size // 5,
        sp_bits=size * 8,
        sf_bits=rng.randint(10_000, 90_000),
        macs=rng.randint(100_000, 5_000_000),
        file_size=size,
        gzip_size=int(size * rng.uniform(0.3, 0.95)),
        accuracy=rng.uniform(0.6, 0.99),
        f1=rng.uniform(0.55, 0.99),
    )


def _export_mode(canonical: str) -> str:
    if "Q-int8" in canonical:
        return "int8"
    return "dynamic" if "Q-dyn" in canonical else "float32"


def _results(artifacts: list, boards: list, rng: random.Random, limit: int) -> int:
    from measurements.models import Result

    rows, created = [], 0
    for art, board, threads in itertools.product(artifacts, boards, THREADS):
        latency = rng.uniform(0.5, 40.0) / threads**0.7
        measured = rng.random() < 0.3
        rows.append(
            Result(
                artifact=art,
                device=board,
                num_threads=threads,
                latency_mean_ms=latency,
                latency_median_ms=latency,
                latency_ci95_ms=latency * rng.uniform(0.005, 0.05),
                runs=rng.randint(50, 2000),
                stop_reason="ci_reached",
                energy_mj=latency * rng.uniform(0.5, 3.0),
                energy_measured=measured,
                energy_method="measured (Intel RAPL)" if measured else "estimated (AdaDeep eq. 5)",
                peak_memory_bytes=rng.randint(5, 80) * 1024 * 1024,
                accuracy=art.accuracy,
                f1=art.f1,
                op_breakdown={"CONV_2D": latency * 0.6, "FULLY_CONNECTED": latency * 0.4},
                provenance={"runtime": "LiteRT", "num_threads": threads},
            )
        )
        if len(rows) == BATCH:
            created += len(Result.objects.bulk_create(rows))
            rows = []
    return created + len(Result.objects.bulk_create(rows))


def _analyze(tables: str = "measurements_result, measurements_artifact, measurements_plan") -> None:
    """Vacuum and refresh the planner's statistics, as autovacuum would after a bulk load.

    Autovacuum also vacuums a table after many inserts (PostgreSQL 13 and later), which
    marks its pages all-visible: index-only scans then skip the table's rows.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {tables}")


def _timed(fn) -> tuple[float, float]:
    """Wall and CPU milliseconds of one call."""
    started, started_cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - started) * 1000, (time.process_time() - started_cpu) * 1000


def time_page(client, url: str, repeat: int, reference=None, change=None) -> dict[str, float]:
    """Median server time of ``url`` over ``repeat`` requests after one warm-up.

    With a ``reference`` (a function doing the same work the plain way), it is
    timed right after each request, so both see the same load. With a
    ``change`` (a committed write to one result), each round also times the
    first request after it: the pages keep what they read until a result
    changes (measurements.results_cache), so that request reads everything afresh.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    if reference:
        reference()
    timings, cpu, sql, refs, changed = [], [], [], [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            wall, used = _timed(lambda: client.get(url))
        timings.append(wall)
        cpu.append(used)
        sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
        count = len(queries.captured_queries)
        if reference:
            refs.append(_timed(reference)[0])
        if change:
            change()
            changed.append(_timed(lambda: client.get(url))[0])
    response = client.get(url)
    return {
        "median_ms": statistics.median(timings),
        "min_ms": min(timings),
        "cpu_ms": statistics.median(cpu),
        "queries": count,
        "sql_ms": statistics.median(sql),
        "kib": len(b"".join(response.streaming_content) if response.streaming else response.content)
        / 1024,
        "reference_ms": statistics.median(refs) if refs else float("nan"),
        "changed_ms": statistics.median(changed) if changed else float("nan"),
    }


def _fetch(sql: str, params: Sequence = ()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def touch(result_id: int) -> None:
    """A committed write to one result (its figures unchanged): what a finished job does."""
    from django.db.models import F

    from measurements.models import Result

    Result.objects.filter(pk=result_id).update(runs=F("runs"))


def reference_columns(dataset_id: int, threads: int | None) -> None:
    """The Pareto page's floor: its filter's four columns fetched, nothing else."""
    where, params = _scope_sql(dataset_id, threads)
    _fetch(
        "SELECT r.id, r.device_id, r.latency_mean_ms, r.accuracy FROM measurements_result r "
        f"JOIN measurements_artifact a ON a.id = r.artifact_id {where}",
        params,
    )


def _scope_sql(dataset_id: int, threads: int | None) -> tuple[str, list]:
    where = "JOIN measurements_dnnmodel m ON m.id = a.model_id WHERE m.dataset_id = %s"
    params: list = [dataset_id]
    if threads is not None:
        where += " AND r.num_threads = %s"
        params.append(threads)
    return where, params


def reference_front() -> None:
    """/api/pareto's plain way: every (latency, accuracy) fetched, NumPy front in Python."""
    from measurements.pareto import pareto_front

    rows = _fetch("SELECT id, latency_mean_ms, accuracy FROM measurements_result")
    pareto_front([row[1:] for row in rows], ["min", "max"])


def reference_merge(dataset_id: int, threads: int) -> None:
    """Compare's plain way: the filter's rows and their baselines merged by pandas."""
    import pandas as pd

    where, params = _scope_sql(dataset_id, threads)
    columns = ["id", "model", "device", "threads", "plan", "latency", "ci95", "accuracy",
               "energy", "file_size", "gzip_size", "macs", "sp_bits"]  # fmt: skip
    rows = _fetch(
        "SELECT r.id, a.model_id, r.device_id, r.num_threads, p.canonical, r.latency_mean_ms, "
        "r.latency_ci95_ms, r.accuracy, r.energy_mj, a.file_size, a.gzip_size, a.macs, "
        "a.sp_bits FROM measurements_result r JOIN measurements_artifact a ON a.id = "
        f"r.artifact_id JOIN measurements_plan p ON p.id = a.plan_id {where}",
        params,
    )
    frame = pd.DataFrame(rows, columns=columns)
    base = frame[frame["plan"] == "baseline"].drop_duplicates(["model", "device", "threads"])
    merged = frame[frame["plan"] != "baseline"].merge(
        base, on=["model", "device", "threads"], suffixes=("", "_base")
    )
    merged["speedup"] = merged["latency_base"] / merged["latency"]
    merged.to_csv(index=False)


def pages(repeat: int) -> list[tuple[str, str, dict[str, float]]]:
    """Time the analysis pages on the first benchmark dataset, as a lab would open them.

    Each page is timed beside a reference doing the same work the plain way,
    in the same run (interleaved): the floor the page is measured against.
    """
    from django.contrib.auth.models import User
    from django.test import Client

    from measurements.models import Dataset, Device, DNNModel, Result

    dataset = Dataset.objects.filter(name__startswith=NAME).order_by("name").first()
    board = Device.objects.filter(name__startswith=NAME).order_by("name").first()
    model = DNNModel.objects.filter(dataset=dataset).order_by("pk").first()
    user, _ = User.objects.get_or_create(username=f"{NAME}-viewer")
    client = Client()
    client.force_login(user)
    d = f"dataset={dataset.pk}"
    columns = functools.partial(reference_columns, dataset.pk, 1)
    merge = functools.partial(reference_merge, dataset.pk, 1)
    change = functools.partial(touch, Result.objects.filter(device=board).order_by("pk")[0].pk)
    urls = [
        ("Pareto explorer, every device", f"/pareto/?{d}&threads=1", columns, None),
        ("Pareto explorer, one device", f"/pareto/?{d}&threads=1&device={board.pk}", None, None),
        ("Pareto, energy x, budgets", f"/pareto/?{d}&x=energy&max_energy=5&min_accuracy=80",
         None, None),
        ("/api/pareto, all results", "/api/pareto?x=latency&y=accuracy", reference_front, change),
        ("Compare, every device", f"/compare/?{d}&threads=1", merge, change),
        ("Compare sorted by Sp", f"/compare/?{d}&threads=1&sort=-sp", None, None),
        ("Compare CSV (every row)", f"/compare.csv?{d}&threads=1", merge, change),
        ("Device matrix", f"/matrix/?{d}&model={model.pk}", None, None),
        ("Sweeps", f"/sweeps/?{d}&device={board.pk}", None, None),
    ]  # fmt: skip
    timed = [(label, url, time_page(client, url, repeat, *more)) for label, url, *more in urls]
    return timed + [spanning_pareto(client, dataset, repeat, change)]


def spanning_pareto(client, dataset, repeat: int, change) -> tuple[str, str, dict[str, float]]:
    """The Pareto page with a filter spanning every result: all models moved to one dataset.

    Eight model rows change dataset (the results stay where they are), so the
    dataset's filter with ``threads=all`` reads all 100,000 results; put back after.
    """
    from measurements.models import DNNModel

    models = DNNModel.objects.filter(name__startswith=NAME)
    before = dict(models.values_list("pk", "dataset_id"))
    models.update(dataset=dataset)
    _analyze("measurements_dnnmodel")  # the planner sees eight models on the dataset, as a lab's
    try:
        url = f"/pareto/?dataset={dataset.pk}&threads=all"
        columns = functools.partial(reference_columns, dataset.pk, None)
        timed = time_page(client, url, repeat, columns, change)
        return ("Pareto explorer, all results", url, timed)
    finally:
        for pk, dataset_id in before.items():
            DNNModel.objects.filter(pk=pk).update(dataset_id=dataset_id)
        _analyze("measurements_dnnmodel")


def main(argv: Sequence[str] | None = None) -> int:
    """Load (or reuse) the rows, time the pages, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--datasets", type=int, default=4)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the rows for a later --reuse")
    parser.add_argument("--reuse", action="store_true", help="time the rows a --keep run left")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as media:
        setup_django(media)
        from django.conf import settings
        from django.core.management import call_command

        from measurements.models import Result

        call_command("migrate", verbosity=0)
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        existing = Result.objects.filter(device__name__startswith=NAME).count()
        if args.reuse and existing:
            print(f"Reusing {existing:,} results on {engine}.")
        else:
            started = time.perf_counter()
            counts = load(args.results, args.datasets, args.devices, args.seed)
            seconds = time.perf_counter() - started
            listed = ", ".join(f"{v:,} {k}" for k, v in counts.items())
            print(f"Loaded {listed} into {engine} in {seconds:.1f} s.")
        try:
            _report(pages(args.repeat), args.repeat)
        finally:
            if not args.keep:
                delete_rows()
    return 0


GOALS_MS = {
    "Pareto explorer, all results": 200,
    "/api/pareto, all results": 150,
    "Compare, every device": 200,
    "Compare CSV (every row)": 150,
}


def _report(rows: list[tuple[str, str, dict[str, float]]], repeat: int) -> None:
    print(f"\nServer time, median of {repeat} requests after a warm-up, each beside its")
    print("reference (the same work done the plain way), timed interleaved in this run:")
    print("(CPU: this process's own time, unaffected by other load; SQL: wall time in queries;")
    print(" changed: the first request after a committed write to a result, which reads afresh)")
    header = ("page", "median ms", "ref ms", "goal ms", "changed ms", "min ms", "CPU ms",
              "queries", "SQL ms")  # fmt: skip
    print(f"{header[0]:<32}" + "".join(f"{h:>11}" for h in header[1:]) + "        KiB  met")
    for label, _, t in rows:
        goal = GOALS_MS.get(label, 500)
        figures = (t["median_ms"], t["reference_ms"], goal, t["changed_ms"], t["min_ms"],
                   t["cpu_ms"], t["queries"], t["sql_ms"], t["kib"])  # fmt: skip
        # A page meets its goal only if the first request after a write does too.
        worst = max(t["median_ms"], 0 if math.isnan(t["changed_ms"]) else t["changed_ms"])
        met = "yes" if worst < goal else "NO"
        print(f"{label:<32}" + "".join(f"{v:>11.0f}" for v in figures) + f"  {met}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Load average while timing: {load:.1f} on {os.cpu_count()} CPUs.")


if __name__ == "__main__":
    raise SystemExit(main())
