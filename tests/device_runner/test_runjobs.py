"""`manage.py runjobs` as real processes against the test database.

Two runners share one queue; a runner killed with SIGKILL leaves its job to
another once the lease expires; a model that cannot run fails its job with a
clear error while the runner goes on. The two-runner test needs PostgreSQL
(SQLite has no row locks to share a queue with); the README says why it skips.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection

from compression.plan import Plan
from measurements import actions
from measurements.models import Artifact, Device, Job, Result

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 5
QUICK = {"warmup_runs": 1, "min_runs": 5, "max_runs": 50, "max_seconds": 0.3, "idle_seconds": 0}
SLOW = {"warmup_runs": 1, "min_runs": 10**6, "max_runs": 10**7, "max_seconds": 8, "idle_seconds": 0}


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        host = db["HOST"] or "127.0.0.1"
        return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def start_runner(*args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "runjobs", "--poll", "0.5", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 240) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


@pytest.fixture
def baseline_artifact(tmp_path) -> Artifact:
    """A tiny untrained LeNet, registered and compressed with the baseline plan."""
    from compression.modelio import save_model
    from compression.zoo import build

    dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
    path = tmp_path / "lenet.keras"
    save_model(build("lenet", (8, 8, 1), 10), path)
    model = actions.register_model_file("lenet", "lenet", dataset, path)
    plan = actions.get_or_create_plan(Plan.baseline())
    return actions.ensure_artifact_ready(Artifact.objects.create(model=model, plan=plan))


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


def test_it_refuses_an_unknown_device_name():
    runner = start_runner("--device", "no-such-board", "--once")
    output, _ = runner.communicate(timeout=120)
    assert runner.returncode != 0
    assert "Unknown device(s): no-such-board" in output
