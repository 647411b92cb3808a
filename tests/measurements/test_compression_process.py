"""Compression in a child process: stopped at once, lease kept or given up, failures named."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from measurements import actions
from measurements.models import Artifact
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db


def compression_children(artifact: Artifact, owner: str = "") -> list[int]:
    """Pids of live compression children working on ``artifact`` for owners starting ``owner``.

    Read from their command lines, whose label names the artifact and the lease owner.
    """
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue  # the process ended while we looked
        if (
            "measurements.compression_child" in text
            and f"artifact {artifact.pk} for {owner}" in text
        ):
            pids.append(int(cmdline.parent.name))
    return pids


def unique_owner() -> str:
    # Artifact ids repeat between tests: the owner tells this test's child from others.
    return f"test-{uuid.uuid4().hex[:8]}:"


def test_it_terminates_the_child_and_releases_the_artifact_when_told_to_stop():
    artifact, owner = make_artifact(status="pending"), unique_owner()
    asked = {}

    def should_stop() -> bool:
        if compression_children(artifact, owner):
            asked.setdefault("at", time.monotonic())
        return "at" in asked

    with pytest.raises(actions.CompressionInterrupted):
        actions.ensure_artifact_ready(artifact, owner=owner, should_stop=should_stop)
    stopped_in = time.monotonic() - asked["at"]
    assert stopped_in < 5, f"took {stopped_in:.1f} s to stop"
    assert compression_children(artifact, owner) == []
    artifact.refresh_from_db()
    assert (artifact.status, artifact.lease_owner) == ("pending", "")
    assert artifact.lease_expires_at is None


def test_it_stops_compressing_when_another_runner_took_the_lease_over():
    artifact, owner = make_artifact(status="pending"), unique_owner()

    def take_over() -> bool:
        # Another runner retakes the artifact (as if this one had stalled past its lease).
        if compression_children(artifact, owner):
            Artifact.objects.filter(pk=artifact.pk).update(lease_owner="runner-b")
        return False

    with pytest.raises(actions.ArtifactBusy, match="lease was lost"):
        actions.ensure_artifact_ready(artifact, owner=owner, lease_seconds=3, should_stop=take_over)
    assert compression_children(artifact, owner) == []
    artifact.refresh_from_db()
    assert (artifact.status, artifact.lease_owner) == ("compressing", "runner-b")


def test_it_marks_the_artifact_failed_with_the_childs_error():
    artifact = make_artifact(status="pending")  # its model file is not a Keras model
    with pytest.raises(actions.ArtifactFailed) as failure:
        actions.ensure_artifact_ready(artifact, owner="runner-a")
    artifact.refresh_from_db()
    assert artifact.status == "failed" and artifact.lease_owner == ""
    assert artifact.model.file.name.split("/")[-1] in artifact.error
    assert artifact.error in str(failure.value)
