"""A lab across machines, end to end: daphne, a compressing and a measuring host.

The runner processes share no directory and no database with the server:
each has its own MEDIA_ROOT, cache and temporary directory, and a
``DATABASE_URL`` naming a file that must never be created; they hold only
the server's URL and a runner token. They reach the server through
``FaultyLink``, which breaks the first transfers (a download cut short, an
upload's connection dropped, a download and an upload corrupted). Fault
cases: the server restarting mid-job, a token revoked mid-job. Each ends
with every job run once and one result per job.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from compression.plan import Plan
from measurements import actions
from measurements.actions.runner_tokens import issue_runner_token, revoke_runner_token
from measurements.models import Artifact, Device, Job, Result
from tests.device_runner.lab_network import (
    FaultyLink,
    free_port,
    start_runner,
    start_server,
    stop,
)
from tests.device_runner.test_runjobs import database_url

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 6
QUICK = {"warmup_runs": 1, "min_runs": 5, "max_runs": 30, "max_seconds": 0.3, "idle_seconds": 0}
SLOW = {"warmup_runs": 1, "min_runs": 10**6, "max_runs": 10**7, "max_seconds": 2, "idle_seconds": 0}


@pytest.fixture
def lab(tmp_path):
    """The server (daphne on a free loopback port) on this test database and MEDIA_ROOT."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "COMPRESSO_VAR_DIR": str(tmp_path / "server-var"),
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "COMPRESSION_FINE_TUNE_EPOCHS": "0",
    }
    server = {"process": start_server(port, env), "port": port, "env": env}
    yield server
    stop(server["process"])


@pytest.fixture
def model(tmp_path):
    """A tiny untrained LeNet on 8x8 digits, registered on the server."""
    from compression.modelio import save_model
    from compression.zoo import build

    dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
    path = tmp_path / "lenet.keras"
    save_model(build("lenet", (8, 8, 1), 10), path)
    return actions.register_model_file("lenet", "lenet", dataset, path)


@pytest.fixture
def device():
    return Device.objects.create(name="host", kind="local", settings={"op_breakdown": False})


def wait_for(condition, processes, timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            assert process.poll() is None, stop(process)
        if time.monotonic() > deadline:
            jobs = list(Job.objects.values_list("pk", "status", "stage", "attempts", "error"))
            logs = "\n---\n".join(stop(process)[-3000:] for process in processes)
            raise AssertionError(f"timed out; jobs: {jobs}\n{logs}")
        time.sleep(0.3)


def cached(home: Path) -> dict[str, str]:
    """The runner's cache: file name -> SHA-256 of its bytes."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in (home / "cache").glob("??/*")
    }


def test_it_runs_a_sweep_queued_from_the_api_on_two_hosts_over_a_faulty_link(
    lab, model, device, tmp_path
):
    user = User.objects.create_user("ada")
    api = f"http://127.0.0.1:{lab['port']}/api/"
    plans = ["baseline", "Q-dyn"]
    queued = requests.post(
        f"{api}jobs/",
        json={"models": [model.pk], "plans": plans, "devices": [device.pk], "protocol": QUICK},
        headers={"Authorization": f"Token {Token.objects.create(user=user).key}"},
        timeout=30,
    )
    assert queued.status_code == 201, queued.text
    _, compress_key = issue_runner_token("gpu-box", "compress")
    _, measure_key = issue_runner_token("pi", "measure", ["host"])
    faults = {"cut_download": 1, "corrupt_download": 1, "drop_upload": 1, "corrupt_upload": 1}
    link = FaultyLink(lab["port"], **faults)
    homes = [tmp_path / "gpu-box", tmp_path / "pi"]
    runners = [
        start_runner(homes[0], link.url, compress_key, "--compress"),
        start_runner(homes[1], link.url, measure_key, "--measure-only", "--device", "host"),
    ]
    try:
        wait_for(lambda: Job.objects.filter(status="succeeded").count() == 2, runners)
    finally:
        outputs = [stop(runner) for runner in runners]
        link.close()

    jobs = Job.objects.all()
    assert {(j.status, j.attempts) for j in jobs} == {("succeeded", 1)}, outputs
    assert Result.objects.count() == 2
    assert set(Result.objects.values_list("job_id", flat=True)) == {j.pk for j in jobs}
    assert link.injected == faults
    # Each fault was noticed, then recovered from (the first download may be either host's).
    compressor, both = outputs[0], "\n".join(outputs)
    assert "PUT uploads/" in compressor and "retrying" in compressor
    assert "upload of" in compressor and "send the file again" in compressor
    assert "download cut short" in both and "resuming" in both
    assert "checksum mismatch" in both and "fetching again" in both
    artifacts = Artifact.objects.all()
    assert {a.status for a in artifacts} == {"ready"} and artifacts.count() == 2
    measured = cached(homes[1])
    for artifact in artifacts:
        with artifact.tflite_file.open("rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == artifact.tflite_sha256
        assert measured[artifact.tflite_sha256] == artifact.tflite_sha256
    assert cached(homes[0]) == {model.sha256: model.sha256}
    for home in homes:  # neither host ever opened a database
        assert not (home / "var" / "never-opened.sqlite3").exists()
        assert not list((home / "media").iterdir())


@pytest.fixture
def ready_artifact(model):
    """The baseline artifact, compressed in this process."""
    plan = actions.get_or_create_plan(Plan.baseline())
    artifact = Artifact.objects.create(model=model, plan=plan)
    return actions.ensure_artifact_ready(artifact, owner="test", in_child=False)


def test_it_finishes_a_job_once_across_a_server_restart(lab, ready_artifact, device, tmp_path):
    job = Job.objects.create(artifact=ready_artifact, device=device, protocol=SLOW)
    _, key = issue_runner_token("pi", "measure", ["host"])
    url = f"http://127.0.0.1:{lab['port']}/"
    runner = start_runner(tmp_path / "pi", url, key, "--measure-only", "--once")
    wait_for(lambda: Job.objects.get(pk=job.pk).stage == "measuring", [runner])

    stop(lab["process"])  # the server goes down mid-measurement, and comes back
    lab["process"] = start_server(lab["port"], lab["env"])
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "succeeded", [])
    output = stop(runner)

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 1), output
    assert Result.objects.filter(job=job).count() == 1


def test_it_gives_a_revoked_hosts_job_to_another_host_once(lab, ready_artifact, device, tmp_path):
    job = Job.objects.create(artifact=ready_artifact, device=device, protocol=SLOW)
    revoked, first_key = issue_runner_token("pi-1", "measure", ["host"])
    _, second_key = issue_runner_token("pi-2", "measure", ["host"])
    url = f"http://127.0.0.1:{lab['port']}/"
    first = start_runner(tmp_path / "pi-1", url, first_key, "--measure-only")
    wait_for(lambda: Job.objects.get(pk=job.pk).stage == "measuring", [first])

    assert revoke_runner_token(revoked) == 1
    second = start_runner(tmp_path / "pi-2", url, second_key, "--measure-only", "--once")
    first.wait(timeout=60)  # refused at its next call: it stops
    first_output = stop(first)
    second.wait(timeout=120)
    second_output = stop(second)

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 1), second_output
    assert job.lease_owner == "" and "token" in job.log
    assert Result.objects.filter(job=job).count() == 1
    assert "revoked" in first_output and first.returncode != 0
