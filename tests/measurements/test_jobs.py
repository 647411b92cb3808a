"""The job queue's state machine, one step at a time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from measurements.jobs import backoff_seconds
from measurements.models import Artifact, Job
from tests.factories import make_artifact, make_device, make_job

pytestmark = pytest.mark.django_db


def test_it_claims_the_oldest_queued_job_of_its_devices():
    device, other = make_device(), make_device()
    make_job(device=other)
    first = make_job(device=device)
    make_job(device=device)
    job = Job.claim("runner-a", [device.pk], lease_seconds=60)
    assert job.pk == first.pk
    assert (job.status, job.lease_owner, job.attempts) == ("running", "runner-a", 1)
    assert job.lease_expires_at > timezone.now()


def test_it_claims_nothing_when_the_queue_is_empty_for_its_devices():
    make_job()
    assert Job.claim("runner-a", [make_device().pk], lease_seconds=60) is None


def test_it_never_gives_a_running_job_with_a_live_lease_to_another_runner():
    job = make_job()
    assert Job.claim("runner-a", [job.device_id], lease_seconds=60).pk == job.pk
    assert Job.claim("runner-b", [job.device_id], lease_seconds=60) is None


def test_it_lets_another_runner_take_a_job_whose_lease_expired():
    job = make_job()
    Job.claim("runner-a", [job.device_id], lease_seconds=60)
    later = timezone.now() + timedelta(seconds=61)
    taken = Job.claim("runner-b", [job.device_id], lease_seconds=60, now=later)
    assert (taken.pk, taken.lease_owner, taken.attempts) == (job.pk, "runner-b", 2)
    # The first runner lost its lease: its updates no longer land.
    assert not job.heartbeat("runner-a", 60)
    assert not job.succeed("runner-a")
    job.refresh_from_db()
    assert job.status == "running" and job.lease_owner == "runner-b"


def test_it_requeues_a_failed_attempt_with_backoff_then_fails_for_good():
    job = make_job(max_attempts=2)
    Job.claim("r", [job.device_id], lease_seconds=60)
    assert job.fail("r", "boom 1") == "queued"
    job.refresh_from_db()
    assert job.not_before > timezone.now() + timedelta(seconds=backoff_seconds(1) - 2)
    assert Job.claim("r", [job.device_id], lease_seconds=60) is None  # still backing off
    later = job.not_before + timedelta(seconds=1)
    Job.claim("r", [job.device_id], lease_seconds=60, now=later)
    assert job.fail("r", "boom 2") == "failed"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("failed", 2, "boom 2")


def test_it_fails_a_non_retryable_error_at_once():
    job = make_job(max_attempts=5)
    Job.claim("r", [job.device_id], lease_seconds=60)
    assert job.fail("r", "model crashed the interpreter", retryable=False) == "failed"


def test_it_releases_a_job_without_spending_an_attempt():
    job = make_job()
    Job.claim("r", [job.device_id], lease_seconds=60)
    assert job.release("r")
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, "")


def test_it_reaps_a_job_whose_runner_vanished_on_its_last_attempt():
    job = make_job(max_attempts=1)
    Job.claim("r", [job.device_id], lease_seconds=60)
    later = timezone.now() + timedelta(seconds=120)
    assert Job.claim("r2", [job.device_id], lease_seconds=60, now=later) is None
    assert Job.reap_exhausted(now=later) == 1
    job.refresh_from_db()
    assert job.status == "failed" and "lease expired" in job.error


def test_it_cancels_a_running_job_and_the_runner_notices_at_heartbeat():
    job = make_job()
    Job.claim("r", [job.device_id], lease_seconds=60)
    assert job.cancel()
    assert not job.heartbeat("r", 60)
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_it_retries_a_failed_job_with_a_fresh_budget():
    job = make_job(status="failed", attempts=3, error="x")
    assert job.retry()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("queued", 0, "")
    assert not job.retry()  # queued jobs are not retried twice


def test_it_records_progress_and_appends_log_lines():
    job = make_job()
    Job.claim("r", [job.device_id], lease_seconds=60)
    assert job.report("r", 0.25, "compressing", "compressing W3")
    assert job.report("r", 1.7, "measuring", "run 10")
    job.refresh_from_db()
    assert job.progress == 1.0 and job.stage == "measuring"
    assert job.log == "compressing W3\nrun 10\n"


def test_it_skips_jobs_whose_artifact_another_runner_is_compressing():
    artifact = make_artifact(status="pending")
    waiting = make_job(artifact=artifact)
    other = make_job(device=waiting.device)
    assert artifact.claim_compression("runner-a", lease_seconds=60)
    # Runner b takes other work instead of a job it could only wait on.
    assert Job.claim("runner-b", [waiting.device_id], lease_seconds=60).pk == other.pk
    assert Job.claim("runner-b", [waiting.device_id], lease_seconds=60) is None
    # Once runner a's compression lease expires (runner killed), the job is claimable.
    later = timezone.now() + timedelta(seconds=61)
    taken = Job.claim("runner-b", [waiting.device_id], lease_seconds=60, now=later)
    assert (taken.pk, taken.attempts) == (waiting.pk, 1)


def test_it_gives_a_job_back_once_its_artifact_is_ready():
    artifact = make_artifact(status="pending")
    job = make_job(artifact=artifact)
    artifact.claim_compression("runner-a", lease_seconds=60)
    assert Job.claim("runner-b", [job.device_id], lease_seconds=60) is None
    Artifact.objects.filter(pk=artifact.pk).update(status="ready", lease_owner="")
    assert Job.claim("runner-b", [job.device_id], lease_seconds=60).pk == job.pk
