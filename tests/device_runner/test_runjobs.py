"""`manage.py runjobs` as real processes against the test database.

Two runners share one queue; a runner killed with SIGKILL leaves its job to
another once the lease expires; a model that cannot run fails its job with a
clear error while the runner goes on. A runner killed while compressing has
its artifact retaken within a lease; SIGTERM while compressing releases the
job and exits within seconds; an unreachable database is one line. The
fifty-job two-runner test needs PostgreSQL (SQLite has no row locks to share a
queue with); the README says why it skips.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection

from compression.plan import Plan
from device_runner.runner import Runner
from measurements import actions
from measurements.models import Artifact, Device, DNNModel, Job, Result
from tests.measurements.test_compression_process import compression_children

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 5
QUICK = {"warmup_runs": 1, "min_runs": 5, "max_runs": 50, "max_seconds": 0.3, "idle_seconds": 0}
SLOW = {"warmup_runs": 1, "min_runs": 10**6, "max_runs": 10**7, "max_seconds": 8, "idle_seconds": 0}


STARTED: list[subprocess.Popen] = []


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        host = db["HOST"] or "127.0.0.1"
        return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def start_runner(*args: str, lease: int = LEASE_SECONDS, env: dict | None = None):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "JOB_LEASE_SECONDS": str(lease),
        "COMPRESSION_FINE_TUNE_EPOCHS": "0",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runjobs", "--poll", "0.5", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    STARTED.append(process)
    return process


@pytest.fixture(autouse=True)
def _no_runner_outlives_its_test():
    # A failed assertion must not leave a runner holding the test database.
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def finish(process: subprocess.Popen, timeout: float = 240) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


@pytest.fixture
def lenet(tmp_path) -> DNNModel:
    """A tiny untrained LeNet on the bundled digits, registered."""
    from compression.modelio import save_model
    from compression.zoo import build

    dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
    path = tmp_path / "lenet.keras"
    save_model(build("lenet", (8, 8, 1), 10), path)
    return actions.register_model_file("lenet", "lenet", dataset, path)


@pytest.fixture
def baseline_artifact(lenet) -> Artifact:
    """The LeNet compressed with the baseline plan (here: TensorFlow is loaded already)."""
    plan = actions.get_or_create_plan(Plan.baseline())
    artifact = Artifact.objects.create(model=lenet, plan=plan)
    return actions.ensure_artifact_ready(artifact, in_child=False)


@pytest.fixture
def device() -> Device:
    # The per-operator breakdown is off: it times every op and these tests count jobs.
    return Device.objects.create(name="host", kind="local", settings={"op_breakdown": False})


def queue(artifact: Artifact, device: Device, count: int, protocol: dict) -> list[Job]:
    return [
        Job.objects.create(artifact=artifact, device=device, protocol=protocol)
        for _ in range(count)
    ]


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":")[0] not in {"postgres", "postgresql"},
    reason="Sharing a queue between processes needs PostgreSQL's row locks (set DATABASE_URL).",
)
def test_it_runs_each_of_fifty_jobs_exactly_once_with_two_runners(baseline_artifact, device):
    jobs = queue(baseline_artifact, device, 50, QUICK)
    runners = [start_runner("--device", "host", "--once") for _ in range(2)]
    outputs = [finish(runner) for runner in runners]

    assert Result.objects.count() == 50
    assert set(Result.objects.values_list("job_id", flat=True)) == {job.pk for job in jobs}
    assert set(Job.objects.values_list("status", flat=True)) == {"succeeded"}
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}
    assert not Result.objects.filter(runs__lt=QUICK["min_runs"]).exists()
    assert all("job(s) run" in out for out in outputs)


def test_it_finishes_a_killed_runners_job_after_the_lease_expires(baseline_artifact, device):
    (job,) = queue(baseline_artifact, device, 1, SLOW)
    first = start_runner("--device", "host")
    deadline = time.monotonic() + 120
    while Job.objects.get(pk=job.pk).stage != "measuring":
        assert time.monotonic() < deadline and first.poll() is None, first.stdout.read()
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    second = start_runner("--device", "host", "--max-jobs", "1")
    finish(second)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert Result.objects.filter(job=job).count() == 1


def test_it_fails_a_model_the_interpreter_cannot_run_and_goes_on(baseline_artifact, device):
    broken = Artifact.objects.create(
        model=baseline_artifact.model,
        plan=actions.get_or_create_plan(Plan.parse("Q-dyn")),
        status=Artifact.Status.READY,
    )
    broken.tflite_file.save("broken.tflite", ContentFile(b"TFL3 this is not a model"))
    (bad,) = queue(broken, device, 1, QUICK)
    (good,) = queue(baseline_artifact, device, 1, QUICK)

    finish(start_runner("--device", "host", "--once"))
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == "failed" and bad.attempts == 1  # a model error is not retried
    assert "broken.tflite" in bad.error or "model" in bad.error.lower()
    assert good.status == "succeeded" and Result.objects.filter(job=good).exists()


def test_it_stores_the_in_graph_breakdown_of_a_measured_job(baseline_artifact):
    from compression.selection.kernels import kernels_of

    # The breakdown on, as on the device `make demo` registers.
    device = Device.objects.create(name="host", kind="local")
    (job,) = queue(baseline_artifact, device, 1, QUICK)

    finish(start_runner("--device", "host", "--once"))

    result = Result.objects.get(job=job)
    # The method fits Result.op_breakdown_method (100 characters; PostgreSQL enforces it).
    assert result.op_breakdown_method.startswith("measured in-graph: LiteRT CompiledModel")
    kernels = kernels_of(baseline_artifact.tflite_file.path)
    assert [o["type"] for o in result.op_breakdown["ops"]] == [k.op_type for k in kernels]
    assert result.op_breakdown["sum_ms"] > 0
    assert result.op_breakdown["by_type"]["CONV_2D"]["ms"] > 0


def test_it_refuses_an_unknown_device_name():
    runner = start_runner("--device", "no-such-board", "--once")
    output, _ = runner.communicate(timeout=120)
    assert runner.returncode != 0
    assert "Unknown device(s): no-such-board" in output


# Compression leases. A runner's lease owner is "host:pid:suffix"; its compression
# child's command line names the artifact and that owner.
KILL_LEASE_SECONDS = 10


def owner_prefix(process: subprocess.Popen) -> str:
    return f"{socket.gethostname()}:{process.pid}:"


def pending_artifact(model: DNNModel) -> Artifact:
    plan = actions.get_or_create_plan(Plan.parse("Q-dyn"))
    return Artifact.objects.create(model=model, plan=plan)


def wait_until_compressing(artifact: Artifact, runner: subprocess.Popen) -> None:
    """Until ``runner`` holds the artifact's lease and its compression child runs."""
    deadline = time.monotonic() + 120
    while not compression_children(artifact, owner_prefix(runner)):
        assert time.monotonic() < deadline and runner.poll() is None, runner.stdout.read()
        time.sleep(0.1)
    artifact.refresh_from_db()
    assert artifact.status == "compressing"
    assert artifact.lease_owner.startswith(owner_prefix(runner))


def wait_for(condition, timeout: float, what: str) -> float:
    """Poll ``condition`` until true; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic()


def test_it_retakes_a_killed_compressors_artifact_within_a_lease(lenet, device):
    artifact = pending_artifact(lenet)
    jobs = queue(artifact, device, 2, QUICK)
    first = start_runner("--device", "host", lease=KILL_LEASE_SECONDS)
    wait_until_compressing(artifact, first)
    second = start_runner("--device", "host", lease=KILL_LEASE_SECONDS)
    time.sleep(3)  # the second runner is up and polling meanwhile
    # It neither holds the job waiting on the busy artifact nor spends its attempts.
    assert Job.objects.get(pk=jobs[1].pk).attempts == 0

    first.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    first.wait(timeout=10)
    by_second = Artifact.objects.filter(
        pk=artifact.pk, lease_owner__startswith=owner_prefix(second)
    )
    retaken_at = wait_for(by_second.exists, 2 * KILL_LEASE_SECONDS, "artifact retaken")
    ready = Artifact.objects.filter(pk=artifact.pk, status="ready")
    ready_at = wait_for(ready.exists, 120, "artifact compressed")
    unfinished = Job.objects.exclude(status="succeeded")
    done_at = wait_for(lambda: not unfinished.exists(), 120, "every job succeeded")
    print(
        f"lease {KILL_LEASE_SECONDS} s; after SIGKILL: retaken {retaken_at - killed_at:.1f} s, "
        f"compressed {ready_at - killed_at:.1f} s, all done {done_at - killed_at:.1f} s"
    )
    assert retaken_at - killed_at <= KILL_LEASE_SECONDS + 1
    # After the retake nothing waits on the dead runner: one job is taken with the
    # artifact and the other right after it (no idle lease wait in between).
    killed_job, other_job = (Job.objects.get(pk=job.pk) for job in jobs)
    assert (killed_job.attempts, other_job.attempts) == (2, 1)
    earlier, later = sorted([killed_job, other_job], key=lambda job: job.started_at)
    assert later.started_at - earlier.finished_at < timedelta(seconds=2)
    assert compression_children(artifact, owner_prefix(first)) == []  # no orphan left
    second.send_signal(signal.SIGTERM)
    finish(second, timeout=30)
    artifact.refresh_from_db()
    assert artifact.tflite_file and artifact.lease_owner == ""
    assert artifact.lease_expires_at is None
    assert Result.objects.filter(job__in=jobs).count() == 2


def test_it_releases_its_job_and_exits_within_ten_seconds_on_sigterm_mid_compression(
    lenet, device, tmp_path
):
    artifact = pending_artifact(lenet)
    jobs = queue(artifact, device, 2, QUICK)
    first = start_runner("--device", "host")
    wait_until_compressing(artifact, first)

    first.send_signal(signal.SIGTERM)
    asked_at = time.monotonic()
    output = finish(first, timeout=30)
    exited_in = time.monotonic() - asked_at
    print(f"exited {exited_in:.1f} s after SIGTERM while compressing")
    assert exited_in < 10
    assert "0 job(s) run" in output
    assert compression_children(artifact, owner_prefix(first)) == []
    artifact.refresh_from_db()
    assert (artifact.status, artifact.lease_owner, artifact.lease_expires_at) == (
        "pending",
        "",
        None,
    )
    rows = Job.objects.filter(pk__in=[j.pk for j in jobs])
    assert set(rows.values_list("status", "attempts", "lease_owner")) == {("queued", 0, "")}
    assert "released by" in rows.get(pk=jobs[0].pk).log

    # Nobody is left stuck: the next runner compresses and measures everything. It runs
    # in this process (TensorFlow is loaded here already): what is under test is the
    # state the stopped process left, and starting runjobs and a compression child
    # again would import Django and TensorFlow twice more for nothing.
    Runner(devices=[device], compress_in_child=False, cache_dir=tmp_path / "cache").run(once=True)
    assert set(rows.values_list("status", "attempts")) == {("succeeded", 1)}
    assert Result.objects.filter(job__in=jobs).count() == 2


def test_it_names_an_unreachable_database_in_one_line():
    # Port 1 on this host: nothing listens there, the connection is refused.
    runner = start_runner("--once", env={"DATABASE_URL": "postgres://lab@127.0.0.1:1/compresso"})
    output, _ = runner.communicate(timeout=120)
    assert runner.returncode != 0
    assert output.strip().splitlines() == [output.strip()], output
    assert output.startswith("CommandError: Cannot use the postgresql database compresso at ")
    assert "127.0.0.1:1 " in output and "refused" in output
