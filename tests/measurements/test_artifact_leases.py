"""Compression leases on artifacts: one compressor at a time, retaken when it dies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from measurements import actions
from measurements.models import Artifact
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db


def test_it_gives_a_pending_artifact_to_one_compressor_only():
    artifact = make_artifact(status="pending")
    assert artifact.claim_compression("runner-a", 60)
    assert not artifact.claim_compression("runner-b", 60)
    artifact.refresh_from_db()
    assert (artifact.status, artifact.lease_owner) == ("compressing", "runner-a")
    assert artifact.lease_expires_at > timezone.now() + timedelta(seconds=55)


def test_it_lets_another_runner_retake_an_artifact_whose_lease_expired():
    artifact = make_artifact(status="pending")
    artifact.claim_compression("runner-a", 60)
    later = timezone.now() + timedelta(seconds=61)
    assert artifact.claim_compression("runner-b", 60, now=later)
    # The first compressor lost its lease: it can neither renew, release nor fail it.
    assert not artifact.renew_compression("runner-a", 60)
    assert not artifact.release_compression("runner-a")
    assert not artifact.fail_compression("runner-a", "boom")
    artifact.refresh_from_db()
    assert (artifact.status, artifact.lease_owner) == ("compressing", "runner-b")
    assert artifact.error == ""


def test_it_renews_the_lease_of_its_owner_only():
    artifact = make_artifact(status="pending")
    artifact.claim_compression("runner-a", 5)
    first = Artifact.objects.get(pk=artifact.pk).lease_expires_at
    assert artifact.renew_compression("runner-a", 60)
    assert not artifact.renew_compression("runner-b", 60)
    assert Artifact.objects.get(pk=artifact.pk).lease_expires_at > first + timedelta(seconds=50)


def test_it_releases_an_artifact_back_to_pending_for_anyone():
    artifact = make_artifact(status="pending")
    artifact.claim_compression("runner-a", 60)
    assert artifact.release_compression("runner-a")
    artifact.refresh_from_db()
    assert (artifact.status, artifact.lease_owner) == ("pending", "")
    assert artifact.lease_expires_at is None
    assert artifact.claim_compression("runner-b", 60)


@pytest.mark.parametrize("status", ["pending", "imported", "compressing"])
def test_it_treats_any_artifact_neither_settled_nor_leased_as_compressible(status):
    # "compressing" without a lease: a row left by a runner from before leases.
    artifact = make_artifact(status=status)
    assert artifact.claim_compression("runner-a", 60)


@pytest.mark.parametrize("status", ["ready", "failed"])
def test_it_never_compresses_a_ready_or_failed_artifact_again(status):
    artifact = make_artifact(status=status)
    assert not artifact.claim_compression("runner-a", 60)
    assert Artifact.objects.get(pk=artifact.pk).status == status


def test_it_tells_a_second_runner_the_artifact_is_busy_instead_of_waiting():
    artifact = make_artifact(status="pending")
    artifact.claim_compression("host:1:aaaaaa", 60)
    with pytest.raises(actions.ArtifactBusy, match="host:1:aaaaaa"):
        actions.ensure_artifact_ready(artifact, owner="host:2:bbbbbb", lease_seconds=60)
    artifact.refresh_from_db()
    assert artifact.lease_owner == "host:1:aaaaaa"


def test_it_reports_another_runners_failure_without_compressing_again():
    artifact = make_artifact(status="failed", error="ValueError: no layer fc9")
    with pytest.raises(actions.ArtifactFailed, match="no layer fc9"):
        actions.ensure_artifact_ready(artifact, owner="host:2:bbbbbb")


def test_it_releases_the_lease_when_the_job_is_lost_before_compressing():
    artifact = make_artifact(status="pending")

    def lost() -> None:
        raise RuntimeError("job cancelled")

    with pytest.raises(RuntimeError):
        actions.ensure_artifact_ready(artifact, owner="runner-a", on_compress=lost)
    artifact.refresh_from_db()
    assert (artifact.status, artifact.lease_owner) == ("pending", "")
