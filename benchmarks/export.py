"""Benchmark the results export: rows per second and the server's peak memory.

Loads ``--rows`` results (100,000 by default) into the database named by
DATABASE_URL (PostgreSQL expected; run ``migrate`` first or let this script
do it), starts the real ASGI server (daphne, as ``make demo`` serves), streams
``/api/results/export?format=csv`` over HTTP and prints the rows per second
beside the reference measured in the same run (``COPY … TO STDOUT CSV`` of the
same rows' columns, interleaved with the export) and their ratio,
the bytes, the time to the first byte and the server process's resident
memory: before the export, and its peak during it (Linux ``VmHWM``, reset just
before the export through ``/proc/<pid>/clear_refs``, cross-checked by
sampling). If the export buffered the table, the peak would grow with the
file size; streamed, it stays near the chunk size.

The benchmark's rows hang off one device and one model named ``bench-export``;
they are deleted at the end unless ``--keep`` is given.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/compresso_bench \\
        .venv/bin/python benchmarks/export.py [--rows 100000] [--format csv] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
NAME = "bench-export"
PLANS = 20  # distinct plans the rows spread over
BATCH = 5000


def setup_django(media_root: str) -> None:
    """Configure Django for this process, with uploaded files in a scratch directory."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ["MEDIA_ROOT"] = media_root
    import django

    django.setup()


def load_results(rows: int) -> int:
    """Replace the benchmark's rows with ``rows`` fresh results; returns the device id."""
    from django.core.files.base import ContentFile

    from measurements.models import Artifact, Dataset, Device, DNNModel, Plan, Result

    delete_results()
    dataset, _ = Dataset.objects.get_or_create(
        name=NAME, defaults={"input_shape": [8, 8, 1], "num_classes": 10, "source": "bundled"}
    )
    model = DNNModel(name=NAME, architecture="lenet", dataset=dataset, param_count=61706)
    model.file.save(f"{NAME}.keras", ContentFile(b"placeholder"), save=False)
    model.save()
    device = Device.objects.create(name=NAME, kind=Device.Kind.LOCAL)
    artifacts = []
    for i in range(PLANS):
        sparsity = round((i + 1) / (PLANS + 1), 4)
        canonical = f"W3(s={sparsity!r})@fc1"
        plan, _ = Plan.objects.get_or_create(
            sha256=hashlib.sha256(canonical.encode()).hexdigest(),
            defaults={
                "canonical": canonical,
                "steps": [{"code": "W3", "params": {"s": sparsity}, "targets": ["fc1"]}],
            },
        )
        artifacts.append(Artifact.objects.create(model=model, plan=plan, status="ready"))
    rng = random.Random(0)
    for start in range(0, rows, BATCH):
        Result.objects.bulk_create(
            [random_result(rng, artifacts, device) for _ in range(min(BATCH, rows - start))]
        )
    return device.pk


def random_result(rng: random.Random, artifacts: list, device) -> object:
    """A Result with every figure set (floats with full-length decimals)."""
    from measurements.models import Result

    mean = rng.uniform(0.1, 50.0)
    return Result(
        artifact=rng.choice(artifacts),
        device=device,
        num_threads=rng.choice((1, 2, 4)),
        source=Result.Source.IMPORTED,
        source_label=NAME,
        latency_mean_ms=mean,
        latency_median_ms=mean * rng.uniform(0.9, 1.0),
        latency_p90_ms=mean * rng.uniform(1.0, 1.3),
        latency_std_ms=mean * rng.uniform(0.01, 0.1),
        latency_ci95_ms=mean * rng.uniform(0.001, 0.05),
        runs=rng.randint(10, 1000),
        stop_reason="ci",
        init_ms=rng.uniform(1, 100),
        first_inference_ms=mean * 3,
        energy_mj=rng.uniform(0.01, 100),
        energy_method="AdaDeep eq. 5 estimate",
        avg_power_w=rng.uniform(0.5, 15),
        peak_memory_bytes=rng.randint(10**5, 10**9),
        op_breakdown={"CONV_2D": mean * 0.6, "FULLY_CONNECTED": mean * 0.3},
        op_breakdown_method="LiteRT profiler",
        accuracy=rng.random(),
        precision=rng.random(),
        recall=rng.random(),
        f1=rng.random(),
        accuracy_method="host-evaluated",
    )


def delete_results() -> None:
    """Remove every row the benchmark made (results cascade from device and model)."""
    from measurements.models import Dataset, Device, DNNModel

    Device.objects.filter(name=NAME).delete()
    DNNModel.objects.filter(name=NAME).delete()
    Dataset.objects.filter(name=NAME).delete()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, media_root: str) -> subprocess.Popen:
    """daphne serving webapp.asgi on ``port``; returns once it answers."""
    env = {**os.environ, "MEDIA_ROOT": media_root, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port)]
        + ["webapp.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/", timeout=2).read()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"daphne exited: {server.stderr.read().decode()}") from None
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("daphne did not answer within 60 s")


def high_water_mark(pid: int) -> int:
    """Peak resident memory of ``pid`` since the last reset, bytes (Linux VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc status")


def reset_high_water_mark(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """Samples a process's RSS every 10 ms, keeping the largest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.peak, self.running = psutil.Process(pid), 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)


def export(
    port: int, device_id: int, file_format: str, extra: str = ""
) -> tuple[int, int, float, float]:
    """Stream the export; returns bytes, lines, seconds to the first byte, and in all."""
    url = f"http://127.0.0.1:{port}/api/results/export?format={file_format}&device={device_id}"
    url += extra
    size = lines = 0
    first = None
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        while block := response.read(64 * 1024):
            first = first or time.perf_counter() - start
            size += len(block)
            lines += block.count(b"\n")
    return size, lines, first or 0.0, time.perf_counter() - start


REFERENCE_SQL = """
COPY (
    SELECT r.*, m.name AS model, m.architecture, ds.name AS dataset, p.canonical AS plan,
           dev.name AS device, a.export_mode, a.params, a.nonzero_params, a.sp_bits,
           a.sf_bits, a.macs, a.file_size, a.gzip_size
    FROM measurements_result r
    JOIN measurements_artifact a ON a.id = r.artifact_id
    JOIN measurements_dnnmodel m ON m.id = a.model_id
    JOIN measurements_dataset ds ON ds.id = m.dataset_id
    JOIN measurements_plan p ON p.id = a.plan_id
    JOIN measurements_device dev ON dev.id = r.device_id
    WHERE r.device_id = %s ORDER BY r.id
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def copy_reference(device_id: int) -> tuple[int, float]:
    """The floor: PostgreSQL writing the same rows' columns as CSV, read here (bytes, seconds)."""
    from django.db import connection

    size = 0
    start = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(REFERENCE_SQL, (device_id,)) as copy:
        for block in copy:
            size += len(block)
    return size, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's rows")
    parser.add_argument("--rounds", type=int, default=2, help="export/reference pairs timed")
    args = parser.parse_args()
    media_root = tempfile.mkdtemp(prefix="compresso-bench-")
    setup_django(media_root)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    device_id = load_results(args.rows)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"loaded {args.rows} results in {time.perf_counter() - started:.1f} s")
    port = free_port()
    server = start_server(port, media_root)
    try:
        export(port, device_id, args.format, "&threads=3")  # warm-up (no row has 3 threads)
        # The reference and the export, interleaved, so both run under the same load.
        rounds = []
        for _ in range(args.rounds):
            ref_bytes, ref_seconds = copy_reference(device_id)
            got = export(port, device_id, args.format)
            rounds.append((ref_seconds, got[3]))
        pid = server.pid
        idle = psutil.Process(pid).memory_info().rss
        exact = reset_high_water_mark(pid)
        sampler = Sampler(pid)
        sampler.start()
        size, lines, first_byte, seconds = export(port, device_id, args.format)
        sampler.running = False
        sampler.join()
        peak = high_water_mark(pid) if exact else sampler.peak
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            delete_results()
    mib = 1024 * 1024
    print(f"exported {args.rows} rows as {args.format}: {size / mib:.1f} MiB, {lines} lines")
    print(f"first byte after {first_byte * 1000:.0f} ms; all in {seconds:.2f} s")
    print(f"rows per second: {args.rows / seconds:,.0f}")
    print("\nInterleaved with the reference (COPY ... TO STDOUT CSV of the same rows' columns,")
    print("read in this process), goal >= 100,000 rows/s:")
    for i, (ref, took) in enumerate(rounds, start=1):
        ref_rate, rate = args.rows / ref, args.rows / took
        print(
            f"  round {i}: export {rate:,.0f} rows/s, COPY reference {ref_rate:,.0f} rows/s, "
            f"ratio {rate / ref_rate:.2f}, goal met: {'yes' if rate >= 100_000 else 'NO'}"
        )
    print(f"  reference CSV size: {ref_bytes / (1024 * 1024):.1f} MiB")
    print(f"server RSS before the export: {idle / mib:.1f} MiB")
    source = "VmHWM" if exact else "sampled every 10 ms"
    print(f"server peak RSS during the export: {peak / mib:.1f} MiB ({source})")
    print(f"sampled peak RSS: {sampler.peak / mib:.1f} MiB; growth {(peak - idle) / mib:.1f} MiB")


if __name__ == "__main__":
    main()
