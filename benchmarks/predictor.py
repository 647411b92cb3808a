"""The latency predictor's error on held-out measured results, per device.

For each device with enough measured results, trains the selector's latency
predictor (compression/selection/predictor.py: a random forest on MACs,
parameters, weight and activation bits, operator-type mix and threads) on
part of its results and reports, on the rest, the median absolute percentage
error and the share of predictions within +-10%, over several random splits.

The database is the one Django is configured with (DATABASE_URL, default
var/compresso.sqlite3); ``--bench`` reads the selector benchmark's instead.

    .venv/bin/python benchmarks/predictor.py [--device local] [--splits 5] [--bench]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIN_ROWS = 5


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", nargs="*", help="Device names (default: every device).")
    parser.add_argument("--splits", type=int, default=5, help="Random train/test splits.")
    parser.add_argument("--test-share", type=float, default=0.3)
    parser.add_argument("--bench", action="store_true", help="Use var/bench-selector.sqlite3.")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    if args.bench:
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench-selector.sqlite3'}"
    import django

    django.setup()
    from compression.selection.predictor import evaluate
    from measurements.models import Device
    from measurements.recommend import device_rows

    devices = Device.objects.all()
    if args.device:
        devices = devices.filter(name__in=args.device)
    for device in devices:
        rows = device_rows(device)
        if len(rows) < MIN_ROWS:
            print(f"{device.name}: {len(rows)} measured results, too few (need {MIN_ROWS})")
            continue
        reports = [evaluate(rows, args.test_share, seed) for seed in range(args.splits)]
        mape = statistics.median(r.median_ape_pct for r in reports)
        within = statistics.mean(r.within_10_pct for r in reports)
        print(
            f"{device.name}: {len(rows)} measured results, {reports[0].n_test} held out per split, "
            f"{args.splits} splits: median APE {mape:.1f}%, within +-10%: {within:.0%}"
        )


if __name__ == "__main__":
    main()
