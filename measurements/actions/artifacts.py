"""Artifacts: compress once, however many runners ask.

TensorFlow is imported inside the functions that need it: the web process
must not pay for it at start-up.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from measurements.models import Artifact

# A compression claimed longer ago than this is presumed abandoned (runner killed).
STALE_COMPRESSION = timedelta(minutes=30)
# Dataset.source -> compression.data.registry loader name.
LOADER_BY_SOURCE = {"bundled": "digits", "keras": "keras", "npz": "npz"}
ACCURACY_METHOD = "host-evaluated through the .tflite (LiteRT) on the test split"


class ArtifactFailed(ValueError):
    """The artifact could not be compressed; retrying the same plan will not help."""


def ensure_artifact_ready(
    artifact: Artifact, on_wait: Callable[[], None] | None = None, poll_seconds: float = 1.0
) -> Artifact:
    """Return the artifact compressed, compressing it here unless another runner is.

    The first runner to move the row from pending to compressing (a guarded
    UPDATE) does the work; the others wait for it, calling ``on_wait`` between
    polls so they can notice a cancellation.

    Raises:
        ArtifactFailed: compression failed, here or in another runner.
    """
    while True:
        artifact.refresh_from_db()
        if artifact.status == Artifact.Status.READY:
            return artifact
        if artifact.status == Artifact.Status.FAILED:
            raise ArtifactFailed(f"Compression failed: {artifact.error}")
        now = timezone.now()
        # An imported artifact has figures but no files: compressed like a pending one.
        waiting = [Artifact.Status.PENDING, Artifact.Status.IMPORTED]
        takeable = Q(status__in=waiting) | Q(
            status=Artifact.Status.COMPRESSING, updated_at__lt=now - STALE_COMPRESSION
        )
        rows = Artifact.objects.filter(takeable, pk=artifact.pk)
        if rows.update(status=Artifact.Status.COMPRESSING, updated_at=now):
            return compress_artifact(artifact)
        if on_wait:
            on_wait()
        time.sleep(poll_seconds)


def compress_artifact(artifact: Artifact) -> Artifact:
    """Apply the artifact's plan to its model, store both files and every metric."""
    try:
        _run_compression(artifact)
    except Exception as exc:
        Artifact.objects.filter(pk=artifact.pk).update(
            status=Artifact.Status.FAILED, error=f"{type(exc).__name__}: {exc}"
        )
        raise ArtifactFailed(f"Compression failed: {exc}") from exc
    artifact.refresh_from_db()
    return artifact


def _run_compression(artifact: Artifact) -> None:
    from compression.data.registry import load_dataset
    from compression.modelio import load_model
    from compression.pipeline import compress
    from compression.plan import Plan as CompressionPlan
    from compression.training import FineTune

    dataset_row = artifact.model.dataset
    dataset = load_dataset(LOADER_BY_SOURCE[dataset_row.source], **dataset_row.source_options)
    model = load_model(artifact.model.file.path)
    plan = CompressionPlan.from_json(artifact.plan.steps)
    budget = FineTune(epochs=settings.COMPRESSION_FINE_TUNE_EPOCHS)
    with tempfile.TemporaryDirectory() as tmp:
        output = compress(model, plan, dataset, tmp, fine_tune=budget)
        _store_compression(artifact, output)


def _store_compression(artifact: Artifact, output: Any) -> None:
    static, quality = output.static_metrics, output.accuracy_metrics
    with transaction.atomic():
        files = (("keras_file", output.keras_path), ("tflite_file", output.tflite_path))
        for field_name, path in files:
            with open(path, "rb") as handle:
                getattr(artifact, field_name).save(Path(path).name, File(handle), save=False)
        artifact.content_key = Path(output.tflite_path).stem
        artifact.tflite_sha256 = hashlib.sha256(Path(output.tflite_path).read_bytes()).hexdigest()
        artifact.export_mode = output.export_mode
        artifact.static_metrics = static
        for name in ("params", "nonzero_params", "sp_bits", "sf_bits", "macs"):
            setattr(artifact, name, _int_or_none(static.get(name)))
        artifact.file_size = _int_or_none(static.get("file_size_bytes"))
        artifact.gzip_size = _int_or_none(static.get("gzip_size_bytes"))
        for name in ("accuracy", "top5_accuracy", "precision", "recall", "f1"):
            setattr(artifact, name, quality.get(name))
        artifact.compress_seconds = output.seconds
        artifact.status, artifact.error = Artifact.Status.READY, ""
        artifact.save()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
