"""The queue as a runner host sees it through the API, scoped by its token.

The server does the claiming, with the same ``SKIP LOCKED`` leases as a
runner on the database; a host only names itself (its ``owner``), and every
lease it takes is named ``token<id>/<owner>`` so one token can never renew,
finish or release another's jobs, and revoking a token finds its jobs.
A job on a device the token does not serve is, to that token, not there.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from device_runner import progress
from measurements import files
from measurements.actions.model_formats import stored_conversion
from measurements.actions.results import store_result
from measurements.actions.searching import advance_searches
from measurements.models import Artifact, Device, DNNModel, Job, RunnerToken

MAX_OWNER_LENGTH = 120


def lease_owner(token: RunnerToken, owner: str) -> str:
    """The lease name for a host's ``owner`` under ``token``.

    Raises:
        ValueError: the owner name is empty, too long or not printable.
    """
    if not owner or len(owner) > MAX_OWNER_LENGTH or not owner.isprintable():
        raise ValueError(
            f"owner must be 1-{MAX_OWNER_LENGTH} printable characters. Received: {owner=}"
        )
    return token.owner_prefix + owner


def token_devices(token: RunnerToken, names: list[str] | None = None) -> list[Device]:
    """The token's devices, narrowed to ``names`` when given.

    Raises:
        PermissionError: a named device is not one of the token's.
    """
    devices = list(token.devices.all())
    if not names:
        return devices
    mine = {d.name: d for d in devices}
    foreign = sorted(set(names) - set(mine))
    if foreign:
        raise PermissionError(f"This token does not serve device(s): {', '.join(foreign)}")
    return [mine[n] for n in sorted(set(names))]


def device_document(device: Device) -> dict[str, Any]:
    """What a host needs to build the device's driver."""
    return {
        "id": device.pk,
        "name": device.name,
        "kind": device.kind,
        "address": device.address,
        "settings": device.settings or {},
        "power_sensor": device.power_sensor,
    }


def settled_artifact() -> Q:
    """Jobs a host that never compresses may take: their artifact is ready, or failed
    (the job then fails with the compression's error rather than wait for ever)."""
    return Q(artifact__status__in=[Artifact.Status.READY, Artifact.Status.FAILED])


def claim_job(
    token: RunnerToken, owner: str, device_names: list[str] | None, ready_only: bool
) -> Job | None:
    """Lease the oldest claimable job on the token's devices to the host.

    Args:
        token: the calling host's token (must be allowed to measure).
        owner: the lease name (``lease_owner`` of the host's own name).
        device_names: a subset of the token's devices, or None for all.
        ready_only: only jobs whose artifact is settled (a measure-only host).
    """
    devices = token_devices(token, device_names)
    where = settled_artifact() if ready_only else None
    job = Job.claim(owner, [d.pk for d in devices], settings.JOB_LEASE_SECONDS, where=where)
    if job is not None:
        Device.objects.filter(pk=job.device_id).update(online=True)
    return job


def job_document(job: Job) -> dict[str, Any]:
    """A claimed job as the host runs it: device, threads, protocol, artifact and files."""
    artifact = job.artifact
    return {
        "id": job.pk,
        "attempts": job.attempts,
        "num_threads": job.num_threads,
        "protocol": job.protocol or {},
        "lease_seconds": settings.JOB_LEASE_SECONDS,
        "device": device_document(job.device),
        "artifact": artifact_document(artifact),
    }


def artifact_document(artifact: Artifact) -> dict[str, Any]:
    """An artifact's state and the hash of the file a device runs."""
    return {
        "id": artifact.pk,
        "status": artifact.status,
        "plan": artifact.plan.canonical,
        "tflite_sha256": artifact.tflite_sha256 if artifact.tflite_file else "",
        "file_size": artifact.file_size,
    }


def visible_job(token: RunnerToken, job_id: int) -> Job | None:
    """The job, if it is on one of the token's devices."""
    return Job.objects.filter(pk=job_id, device__runner_tokens=token).first()


def report_progress(job: Job, owner: str, fraction: float, stage: str, line: str) -> bool:
    """Record and stream a held job's progress. False if the lease is lost."""
    return progress.publish(job, owner, fraction, stage, line)


def heartbeat(job: Job, owner: str) -> bool:
    """Renew a held job's lease and mark its device seen. False if the lease is lost."""
    if not job.heartbeat(owner, settings.JOB_LEASE_SECONDS):
        return False
    Device.objects.filter(pk=job.device_id).update(online=True, last_seen=timezone.now())
    return True


def finish_job(job: Job, owner: str, raw: dict[str, Any]) -> None:
    """Store the measured result and mark the job succeeded, atomically.

    Raises:
        LeaseLost: the job is no longer this host's; nothing was stored.
    """
    store_result(job, owner, raw)
    progress.broadcast(job.pk, job.device_id, {"progress": 1.0, "stage": "done"})
    advance_searches(job.pk)  # a search waiting on this job asks for its next plan


def fail_job(
    job: Job, owner: str, error: str, retryable: bool, device_offline: bool, log: str = ""
) -> str | None:
    """Record a failed attempt as the host describes it. None if the lease is lost."""
    job.report(owner, job.progress, "failed", log or error)
    status = job.fail(owner, error, retryable=retryable)
    if status and device_offline:
        Device.objects.filter(pk=job.device_id).update(online=False)
    if status:
        progress.broadcast(job.pk, job.device_id, {"stage": status, "error": error})
    if status == Job.Status.FAILED:
        advance_searches(job.pk)  # the search records why and moves on
    return status


def release_job(job: Job, owner: str, reason: str) -> bool:
    """Give a held job back untouched (host stopping). False if it was no longer held."""
    job.report(owner, 0.0, "released", f"{reason}; released by {owner}"[:2000])
    released = job.release(owner)
    if released:
        progress.broadcast(job.pk, job.device_id, {"progress": 0.0, "stage": "released"})
    return released


def may_download(token: RunnerToken, sha256: str) -> Any:
    """The stored file with this hash that the token may read, or None.

    A measuring host reads the .tflite of artifacts queued on its devices; a
    compressing host reads base models, and a .pt2 model's conversion made at upload.
    """
    if token.may_measure:
        artifact = (
            Artifact.objects.filter(tflite_sha256=sha256, jobs__device__runner_tokens=token)
            .exclude(tflite_file="")
            .first()
        )
        if artifact is not None:
            return artifact.tflite_file
    if token.may_compress:
        model = DNNModel.objects.filter(sha256=sha256).exclude(file="").first()
        if model is not None:
            return model.file
        model = DNNModel.objects.filter(converted_sha256=sha256).exclude(converted_file="").first()
        if model is not None:
            return model.converted_file
    return None


def model_sha256(artifact: Artifact) -> str:
    """The base model file's hash, computed (through the storage API) if never recorded."""
    model = artifact.model
    if not model.sha256:
        model.sha256 = files.field_sha256(model.file)
        model.save(update_fields=["sha256"])
    return model.sha256


def compressible_artifact(artifact_id: int | None) -> Artifact | None:
    """That artifact if it may be compressed now, or the one whose queued job is oldest."""
    rows = Artifact.objects.filter(Artifact.compressible(timezone.now()))
    if artifact_id is not None:
        return rows.filter(pk=artifact_id).first()
    return rows.filter(jobs__status=Job.Status.QUEUED).order_by("jobs__created_at").first()


def compression_document(artifact: Artifact) -> dict[str, Any]:
    """What a host needs to compress the artifact, its base model named by hash."""
    from measurements.actions.artifacts import LOADER_BY_SOURCE

    dataset = artifact.model.dataset
    return {
        "artifact_id": artifact.pk,
        "plan": artifact.plan.canonical,
        "plan_steps": artifact.plan.steps,
        "model_sha256": model_sha256(artifact),
        "model_format": artifact.model.format,
        "conversion": stored_conversion(artifact.model),
        "loader": LOADER_BY_SOURCE[dataset.source],
        "loader_options": dataset.source_options or {},
        "fine_tune_epochs": settings.COMPRESSION_FINE_TUNE_EPOCHS,
        "fine_tune_patience": settings.COMPRESSION_FINE_TUNE_PATIENCE,
    }


def visible_artifact(token: RunnerToken, artifact_id: int) -> Artifact | None:
    """The artifact, if the token compresses or one of its devices has a job on it."""
    rows = Artifact.objects.filter(pk=artifact_id)
    if not token.may_compress:
        rows = rows.filter(jobs__device__runner_tokens=token)
    return rows.first()


def artifact_state(artifact: Artifact) -> dict[str, Any]:
    """Where an artifact stands, for a host holding one of its jobs."""
    busy = artifact.status == Artifact.Status.COMPRESSING
    return {
        **artifact_document(artifact),
        "error": artifact.error,
        "compressed_by": artifact.lease_owner if busy else "",
    }


def claim_compression(owner: str, artifact_id: int | None) -> Artifact | None:
    """Lease the compression of that artifact (or of the oldest one jobs wait for)."""
    artifact = compressible_artifact(artifact_id)
    if artifact is None or not artifact.claim_compression(owner, settings.JOB_LEASE_SECONDS):
        return None
    return artifact


def complete_compression(artifact: Artifact, owner: str, body: dict[str, Any]) -> None:
    """Store an uploaded compression on the artifact, then forget the uploads.

    The two files were verified by hash when they were uploaded; they are
    copied out of storage into a scratch directory so the artifact is stored
    exactly as a compression on the database host stores it.

    Raises:
        FileNotFoundError: a file was never uploaded.
        ArtifactBusy: the host lost the artifact's lease; nothing is stored.
    """
    from measurements.actions.artifacts import store_compression

    hashes = {"tflite": body["tflite_sha256"]}
    if body.get("keras_sha256"):  # none for a .tflite or .pt2 model
        hashes["keras"] = body["keras_sha256"]
    with tempfile.TemporaryDirectory(prefix="compresso-upload-") as tmp:
        paths = {}
        for suffix, sha256 in hashes.items():
            paths[suffix] = Path(tmp) / f"{body['key']}.{suffix}"
            with files.open_upload(sha256) as source, paths[suffix].open("wb") as target:
                shutil.copyfileobj(source, target, files.CHUNK)
        document = {
            **{name: body[name] for name in ("key", "export_mode", "static_metrics", "seconds")},
            "accuracy_metrics": body["accuracy_metrics"],
            "keras_path": str(paths["keras"]) if "keras" in paths else None,
            "tflite_path": str(paths["tflite"]),
        }
        store_compression(artifact, owner, document)
    for sha256 in hashes.values():
        files.discard_upload(sha256)
