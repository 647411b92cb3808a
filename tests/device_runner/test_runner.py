"""The runner's steps in this process: jobs given back rather than waited on."""

from __future__ import annotations

import pytest

from device_runner.runner import Runner
from measurements.models import Job
from tests.factories import make_artifact, make_device, make_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_releases_a_job_whose_artifact_another_runner_took_meanwhile():
    device = make_device()
    artifact = make_artifact(status="pending")
    job = make_job(artifact=artifact, device=device)
    runner = Runner(devices=[device], owner="runner-b", lease_seconds=30)
    claimed = Job.claim(runner.owner, [device.pk], runner.lease_seconds)
    # Runner a takes the compression between runner b's job claim and its artifact claim.
    assert artifact.claim_compression("runner-a", 30)

    assert runner.run_job(claimed) is False
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_owner, job.stage) == ("queued", 0, "", "released")
    assert "being compressed by runner-a; released by runner-b" in job.log
    # Nothing else to do: the step says so, and the job waits for runner a's artifact.
    assert runner.step() is False and runner.jobs_done == 0
