"""Artifacts: compress once, however many runners ask.

The runner that takes an artifact's compression lease compresses it in a
child process (``measurements.compression_child``), renewing the lease while
it waits and able to stop the child at once; a runner killed meanwhile loses
the lease when it expires and another takes the artifact over. TensorFlow is
only imported in the child, or in this process when ``in_child`` is False.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction

from measurements.actions.model_formats import stored_conversion
from measurements.compression_child import compress_document
from measurements.compression_process import CompressionChildError, run_compression_child
from measurements.models import Artifact

# Dataset.source -> compression.data.registry loader name.
LOADER_BY_SOURCE = {"bundled": "digits", "keras": "keras", "npz": "npz"}
ACCURACY_METHOD = "host-evaluated through the .tflite (LiteRT) on the test split"


class ArtifactFailed(ValueError):
    """The artifact could not be compressed; retrying the same plan will not help."""


class ArtifactBusy(Exception):
    """Another runner compresses this artifact under a live lease (or just took it over)."""


class CompressionInterrupted(Exception):
    """This runner stopped its compression (shutting down, or its job was lost).

    The artifact's lease was given back: any runner may compress it now.
    """


def ensure_artifact_ready(
    artifact: Artifact,
    owner: str = "",
    lease_seconds: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_compress: Callable[[], None] | None = None,
    in_child: bool = True,
) -> Artifact:
    """Return the artifact compressed, compressing it here unless another runner is.

    The runner that takes the artifact's compression lease (a guarded UPDATE)
    does the work; the others get ``ArtifactBusy`` at once instead of waiting.

    Args:
        artifact: the artifact a job needs.
        owner: lease owner name (default: this host and process).
        lease_seconds: lease length (default ``settings.JOB_LEASE_SECONDS``).
        should_stop: polled while compressing; True stops it (see ``compress_artifact``).
        on_compress: called once when this runner starts compressing.
        in_child: compress in a child process (default) or in this one.

    Raises:
        ArtifactFailed: compression failed, here or in another runner.
        ArtifactBusy: another runner holds the artifact's compression lease.
        CompressionInterrupted: ``should_stop`` said stop; the lease was released.
    """
    owner = owner or f"{socket.gethostname()}:{os.getpid()}"
    lease_seconds = lease_seconds or settings.JOB_LEASE_SECONDS
    if artifact.claim_compression(owner, lease_seconds):
        try:
            if on_compress:
                on_compress()
        except BaseException:
            artifact.release_compression(owner)  # not compressing after all: others may
            raise
        return compress_artifact(artifact, owner, lease_seconds, should_stop, in_child)
    artifact.refresh_from_db()
    if artifact.status == Artifact.Status.READY:
        return artifact
    if artifact.status == Artifact.Status.FAILED:
        raise ArtifactFailed(f"Compression failed: {artifact.error}")
    raise ArtifactBusy(f"Artifact {artifact.pk} is being compressed by {artifact.lease_owner}")


def compress_artifact(
    artifact: Artifact,
    owner: str,
    lease_seconds: int,
    should_stop: Callable[[], bool] | None = None,
    in_child: bool = True,
) -> Artifact:
    """Apply the artifact's plan to its model, store both files and every metric.

    ``owner`` must hold the artifact's compression lease; it is renewed every
    third of ``lease_seconds`` while the child works.

    Raises:
        ArtifactFailed: the compression failed; the artifact is marked failed.
        ArtifactBusy: the lease was lost to another runner; nothing is stored.
        CompressionInterrupted: ``should_stop`` returned True; the child was
            terminated and the lease released.
    """
    with tempfile.TemporaryDirectory(prefix="compresso-compress-") as tmp:
        args = _child_args(artifact, tmp, owner)
        check = (
            _LeaseKeeper(artifact, owner, lease_seconds, should_stop).check if in_child else None
        )
        document = run_compression(
            args, check, lambda error: artifact.fail_compression(owner, error)
        )
        store_compression(artifact, owner, document)
    artifact.refresh_from_db()
    return artifact


class _LeaseKeeper:
    """Between polls of the child: stop when told to, renew the lease when due."""

    def __init__(
        self,
        artifact: Artifact,
        owner: str,
        lease_seconds: int,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.artifact, self.owner, self.lease_seconds = artifact, owner, lease_seconds
        self.should_stop = should_stop
        self.renew_at = time.monotonic() + lease_seconds / 3

    def check(self) -> None:
        if self.should_stop and self.should_stop():
            self.artifact.release_compression(self.owner)
            raise CompressionInterrupted(f"Compression of artifact {self.artifact.pk} stopped")
        if time.monotonic() >= self.renew_at:
            if not self.artifact.renew_compression(self.owner, self.lease_seconds):
                raise ArtifactBusy(f"Artifact {self.artifact.pk}'s compression lease was lost")
            self.renew_at = time.monotonic() + self.lease_seconds / 3


def run_compression(
    args: dict[str, Any],
    check: Callable[[], None] | None,
    fail: Callable[[str], None],
) -> dict[str, Any]:
    """Run one compression in a stoppable child (``check`` polled while it works), or in
    this process when ``check`` is None; shared by the direct and the HTTP runners.

    Returns:
        The child's document: the two files' paths and the metrics.

    Raises:
        ArtifactFailed: the plan could not be applied; ``fail`` got the reason first.
        ArtifactBusy, CompressionInterrupted: raised by ``check``, passed on.
    """
    try:
        if check is not None:
            return run_compression_child(args, check)
        return compress_document(args)
    except (ArtifactBusy, CompressionInterrupted):
        raise
    except Exception as exc:
        error = str(exc) if isinstance(exc, CompressionChildError) else _describe(exc)
        fail(error)
        raise ArtifactFailed(f"Compression failed: {error}") from exc


def _child_args(artifact: Artifact, out_dir: str, owner: str) -> dict[str, Any]:
    dataset = artifact.model.dataset
    conversion = stored_conversion(artifact.model)
    if conversion is not None:
        conversion["tflite_path"] = artifact.model.converted_file.path
    return {
        "conversion": conversion,
        "model_path": artifact.model.file.path,
        "model_format": artifact.model.format,
        "plan_steps": artifact.plan.steps,
        "loader": LOADER_BY_SOURCE[dataset.source],
        "loader_options": dataset.source_options,
        "fine_tune_epochs": settings.COMPRESSION_FINE_TUNE_EPOCHS,
        "fine_tune_patience": settings.COMPRESSION_FINE_TUNE_PATIENCE,
        "out_dir": out_dir,
        "label": f"artifact {artifact.pk} for {owner}",
    }


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def store_compression(artifact: Artifact, owner: str, output: dict[str, Any]) -> None:
    """Store a compression child's document (its files and metrics) on the artifact.

    Raises:
        ArtifactBusy: ``owner`` no longer holds the artifact's lease; nothing is stored.
    """
    static, quality = output["static_metrics"], output["accuracy_metrics"]
    with transaction.atomic():
        # Locked (on PostgreSQL) while storing: a runner that took the lease over waits.
        if not artifact.held_by(owner).select_for_update().exists():
            raise ArtifactBusy(f"Artifact {artifact.pk}'s compression lease was lost")
        for field_name in ("keras_file", "tflite_file"):
            path = output.get(field_name.replace("_file", "_path"))
            if path is None:  # a .tflite or .pt2 model's compression has no Keras file
                continue
            with open(path, "rb") as handle:
                getattr(artifact, field_name).save(Path(path).name, File(handle), save=False)
        tflite_path = Path(output["tflite_path"])
        artifact.content_key = tflite_path.stem
        artifact.tflite_sha256 = hashlib.sha256(tflite_path.read_bytes()).hexdigest()
        artifact.export_mode = output["export_mode"]
        artifact.static_metrics = static
        for name in ("params", "nonzero_params", "sp_bits", "sf_bits", "macs"):
            setattr(artifact, name, _int_or_none(static.get(name)))
        artifact.file_size = _int_or_none(static.get("file_size_bytes"))
        artifact.gzip_size = _int_or_none(static.get("gzip_size_bytes"))
        for name in ("accuracy", "top5_accuracy", "precision", "recall", "f1"):
            setattr(artifact, name, quality.get(name))
        artifact.compress_seconds = output["seconds"]
        artifact.status, artifact.error = Artifact.Status.READY, ""
        artifact.lease_owner, artifact.lease_expires_at = "", None
        artifact.save()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
