"""Issue 13's outside reference: optuna-dashboard over the same 100,000 two-objective points.

Reads the (latency, accuracy) pairs of the results ``benchmarks/dashboard.py
--keep`` left in the database named by DATABASE_URL, stores them as the
trials of one two-objective optuna study (minimize latency, maximize
accuracy; the plan, device and thread count as parameters) in an RDB
storage (``--storage``, a PostgreSQL database by default, created by
``--load``), then times, in this process and interleaved:

* optuna-dashboard's study request (``GET /api/studies/<id>``, what its page
  loads and then polls), called through its WSGI app: the first load on a
  fresh app and a poll after it (``?after=<trials>``, as its page polls);
* Compresso's Pareto page over the same results (a filter spanning them all),
  first request after a committed write and steady state, with Django's test
  Client, as ``benchmarks/dashboard.py`` does.

It prints each median and the ratio; the goal is Compresso at least 10x
faster than optuna-dashboard on both (first load against the first request
after a write, poll against the steady state).

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/compresso_bench \\
        .venv/bin/python benchmarks/optuna_reference.py --load [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import dashboard  # noqa: E402 (the loaded rows, the Pareto page and its write)

DEFAULT_STORAGE = "postgresql+psycopg://postgres@127.0.0.1:5432/compresso_optuna"
STUDY = "compresso-bench-dashboard"
GOAL_FACTOR = 10
BATCH = 5000


def result_points() -> list[tuple[float, float, int, int, int]]:
    """(latency ms, accuracy, plan id, device id, threads) of every benchmark result."""
    from measurements.models import Result

    rows = Result.objects.filter(
        device__name__startswith=dashboard.NAME,
        latency_mean_ms__isnull=False,
        accuracy__isnull=False,
    )
    columns = ("latency_mean_ms", "accuracy", "artifact__plan_id", "device_id", "num_threads")
    return list(rows.order_by("pk").values_list(*columns))


def load_study(storage_url: str, points: Sequence[tuple]) -> int:
    """A fresh study holding one finished trial per point; returns its id."""
    import optuna
    from optuna.distributions import IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(storage_url)
    with contextlib.suppress(KeyError):  # no earlier study
        optuna.delete_study(study_name=STUDY, storage=storage)
    study = optuna.create_study(
        study_name=STUDY, storage=storage, directions=["minimize", "maximize"]
    )
    high = {"plan": max(p[2] for p in points), "device": max(p[3] for p in points)}
    spaces = {
        "plan": IntDistribution(0, high["plan"]),
        "device": IntDistribution(0, high["device"]),
        "threads": IntDistribution(1, 8),
    }
    for start in range(0, len(points), BATCH):
        study.add_trials(
            [
                optuna.trial.create_trial(
                    params={"plan": plan, "device": device, "threads": threads},
                    distributions=spaces,
                    values=[latency, accuracy],
                )
                for latency, accuracy, plan, device, threads in points[start : start + BATCH]
            ]
        )
    return storage.get_study_id_from_name(STUDY)


def study_request(app: Callable, study_id: int, after: int = 0) -> tuple[float, int]:
    """Milliseconds for one ``GET /api/studies/<id>?after=`` through the WSGI app; trials sent."""
    status: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": f"/api/studies/{study_id}",
        "QUERY_STRING": f"after={after}",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    started = time.perf_counter()
    body = b"".join(app(environ, lambda s, headers, *rest: status.append(s)))
    elapsed = (time.perf_counter() - started) * 1000
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"optuna-dashboard answered {status}: {body[:300]!r}")
    return elapsed, len(json.loads(body)["trials"])


def time_optuna(storage_url: str, study_id: int, trials: int) -> tuple[float, float]:
    """First load on a fresh app (ms) and a poll after it (ms)."""
    import optuna_dashboard

    app = optuna_dashboard.wsgi(storage_url)
    first, loaded = study_request(app, study_id)
    if loaded != trials:
        raise SystemExit(f"optuna-dashboard sent {loaded} trials, expected {trials}")
    poll, _ = study_request(app, study_id, after=trials)
    return first, poll


def main(argv: Sequence[str] | None = None) -> int:
    """Load (with --load) the study, time both dashboards interleaved, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=DEFAULT_STORAGE, help="optuna RDB storage URL")
    parser.add_argument("--load", action="store_true", help="(re)create the study first")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as media:
        dashboard.setup_django(media)
        points = result_points()
        if not points:
            raise SystemExit("No benchmark results: run benchmarks/dashboard.py --keep first.")
        if args.load:
            started = time.perf_counter()
            load_study(args.storage, points)
            print(f"Stored {len(points):,} trials in {time.perf_counter() - started:.0f} s.")
        import optuna

        storage = optuna.storages.RDBStorage(args.storage)
        study_id = storage.get_study_id_from_name(STUDY)
        rounds = [_round(args.storage, study_id, len(points)) for _ in range(args.repeat)]
    _report(len(points), rounds)
    return 0


def _round(storage_url: str, study_id: int, trials: int) -> dict[str, float]:
    first, poll = time_optuna(storage_url, study_id, trials)
    ours = compresso_pareto()
    return {"optuna first": first, "optuna poll": poll, **ours}


def compresso_pareto() -> dict[str, float]:
    """The Pareto page spanning every result: after a write, and steady (ms, median of 3)."""
    from django.contrib.auth.models import User
    from django.test import Client

    from measurements.models import Dataset, Result

    dataset = Dataset.objects.filter(name__startswith=dashboard.NAME).order_by("name").first()
    user, _ = User.objects.get_or_create(username=f"{dashboard.NAME}-viewer")
    client = Client()
    client.force_login(user)
    board_result = Result.objects.filter(device__name__startswith=dashboard.NAME).order_by("pk")[0]
    change = lambda: dashboard.touch(board_result.pk)  # noqa: E731
    _, _, timed = dashboard.spanning_pareto(client, dataset, 3, change)
    return {"ours after a write": timed["changed_ms"], "ours steady": timed["median_ms"]}


def _report(trials: int, rounds: list[dict[str, float]]) -> None:
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(f"\n{trials:,} two-objective points, median of {len(rounds)} interleaved rounds (ms):")
    for key, value in median.items():
        print(f"  {key:<22}{value:>10.0f}")
    pairs = (("first load", "optuna first", "ours after a write"),
             ("poll / steady", "optuna poll", "ours steady"))  # fmt: skip
    print(f"\n{'figure':<16}{'optuna ms':>11}{'ours ms':>10}{'factor':>9}  goal >= {GOAL_FACTOR}x")
    for label, theirs, ours in pairs:
        factor = median[theirs] / median[ours]
        met = "yes" if factor >= GOAL_FACTOR else "NO"
        print(f"{label:<16}{median[theirs]:>11.0f}{median[ours]:>10.0f}{factor:>8.1f}x  {met}")


if __name__ == "__main__":
    raise SystemExit(main())
