"""The queue on the database itself: one machine, or hosts inside the trusted network.

What the runner did before the API existed, behind the same interface: the
Job and Artifact models' guarded UPDATEs and leases. Files are still read
through Django's storage API into the host's ``FileCache``, so this mode
works with media on object storage too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from device_runner import api_queue, progress
from device_runner.file_cache import FileCache
from device_runner.queue_client.base import (
    CompressionTicket,
    DeviceSpec,
    JobTicket,
    QueueError,
)
from measurements import actions, files
from measurements.models import Artifact, Device, DNNModel, Job


class DirectQueueClient:
    """Queue calls as database updates, under one lease owner name."""

    def __init__(self, owner: str, cache: FileCache, lease_seconds: int | None = None) -> None:
        self.owner, self.cache = owner, cache
        self.lease_seconds = lease_seconds or settings.JOB_LEASE_SECONDS

    def devices(self, names: list[str] | None) -> list[DeviceSpec]:
        if not names:
            rows = list(Device.objects.filter(kind=Device.Kind.LOCAL))
            if not rows:
                raise QueueError("No local device. Run `python manage.py loadcatalogue` first.")
            return [DeviceSpec.from_row(d) for d in rows]
        rows = list(Device.objects.filter(name__in=names))
        missing = sorted(set(names) - {d.name for d in rows})
        if missing:
            known = ", ".join(Device.objects.values_list("name", flat=True)) or "none"
            raise QueueError(f"Unknown device(s): {', '.join(missing)}. Known: {known}.")
        return [DeviceSpec.from_row(d) for d in rows]

    def claim_job(self, devices: list[DeviceSpec], ready_only: bool) -> JobTicket | None:
        close_old_connections()
        Job.reap_exhausted()
        where = api_queue.settled_artifact() if ready_only else None
        job = Job.claim(self.owner, [d.id for d in devices], self.lease_seconds, where=where)
        return None if job is None else self.ticket(job)

    def ticket(self, job: Job) -> JobTicket:
        """The ticket of a job this client's owner holds."""
        spec = DeviceSpec.from_row(job.device)
        artifact = job.artifact
        return JobTicket(
            id=job.pk,
            owner=self.owner,
            attempts=job.attempts,
            num_threads=job.num_threads,
            protocol=job.protocol or {},
            device=spec,
            artifact_id=artifact.pk,
            artifact_status=artifact.status,
            plan=artifact.plan.canonical,
            tflite_sha256=artifact.tflite_sha256,
        )

    def _job(self, ticket: JobTicket) -> Job:
        return Job(pk=ticket.id, device_id=ticket.device.id, progress=ticket.progress)

    def heartbeat(self, job: JobTicket) -> bool:
        if not self._job(job).heartbeat(self.owner, self.lease_seconds):
            return False
        Device.objects.filter(pk=job.device.id).update(online=True, last_seen=timezone.now())
        return True

    def progress(self, job: JobTicket, fraction: float, stage: str, line: str = "") -> bool:
        return progress.publish(self._job(job), self.owner, fraction, stage, line)

    def artifact(self, job: JobTicket) -> JobTicket:
        artifact = Artifact.objects.get(pk=job.artifact_id)
        if artifact.status == Artifact.Status.READY and not artifact.tflite_sha256:
            artifact.tflite_sha256 = files.field_sha256(artifact.tflite_file)
            Artifact.objects.filter(pk=artifact.pk).update(tflite_sha256=artifact.tflite_sha256)
        busy = artifact.status == Artifact.Status.COMPRESSING
        return replace(
            job,
            artifact_status=artifact.status,
            artifact_error=artifact.error,
            compressed_by=artifact.lease_owner if busy else "",
            tflite_sha256=artifact.tflite_sha256,
        )

    def tflite_path(self, job: JobTicket) -> Path:
        artifact = Artifact.objects.get(pk=job.artifact_id)
        return self.cache.get(job.tflite_sha256, _storage_source(artifact.tflite_file))

    def store_result(self, job: JobTicket, raw: dict[str, Any]) -> bool:
        try:
            actions.store_result(Job.objects.get(pk=job.id), self.owner, raw)
        except actions.LeaseLost:
            return False
        progress.broadcast(job.id, job.device.id, {"progress": 1.0, "stage": "done"})
        actions.advance_searches(job.id)  # a search waiting on this job asks for its next plan
        return True

    def fail(
        self, job: JobTicket, error: str, retryable: bool, device_offline: bool, log: str = ""
    ) -> str | None:
        row = Job.objects.get(pk=job.id)
        row.report(self.owner, row.progress, "failed", log or error)
        status = row.fail(self.owner, error, retryable=retryable)
        if status and device_offline:
            Device.objects.filter(pk=job.device.id).update(online=False)
        progress.broadcast(job.id, job.device.id, {"stage": status or "lost", "error": error})
        if status == Job.Status.FAILED:
            actions.advance_searches(job.id)  # the search records why and moves on
        return status

    def release(self, job: JobTicket, reason: str) -> bool:
        row = self._job(job)
        row.report(self.owner, 0.0, "released", f"{reason}; released by {self.owner}")
        released = row.release(self.owner)
        if released:
            progress.broadcast(job.id, job.device.id, {"progress": 0.0, "stage": "released"})
        return released

    # Compression ----------------------------------------------------------

    def claim_compression(self, artifact_id: int | None) -> CompressionTicket | None:
        artifact = api_queue.compressible_artifact(artifact_id)
        if artifact is None or not artifact.claim_compression(self.owner, self.lease_seconds):
            return None
        return CompressionTicket(owner=self.owner, **api_queue.compression_document(artifact))

    def renew_compression(self, ticket: CompressionTicket) -> bool:
        return Artifact(pk=ticket.artifact_id).renew_compression(self.owner, self.lease_seconds)

    def release_compression(self, ticket: CompressionTicket) -> bool:
        return Artifact(pk=ticket.artifact_id).release_compression(self.owner)

    def fail_compression(self, ticket: CompressionTicket, error: str) -> bool:
        return Artifact(pk=ticket.artifact_id).fail_compression(self.owner, error)

    def model_path(self, ticket: CompressionTicket) -> Path:
        model = DNNModel.objects.get(artifacts__pk=ticket.artifact_id)
        return self.cache.get(ticket.model_sha256, _storage_source(model.file))

    def converted_path(self, ticket: CompressionTicket) -> Path:
        model = DNNModel.objects.get(artifacts__pk=ticket.artifact_id)
        sha256 = (ticket.conversion or {})["sha256"]
        return self.cache.get(sha256, _storage_source(model.converted_file))

    def complete_compression(self, ticket: CompressionTicket, document: dict[str, Any]) -> bool:
        artifact = Artifact.objects.get(pk=ticket.artifact_id)
        try:
            actions.store_compression(artifact, self.owner, document)
        except actions.ArtifactBusy:
            return False
        return True


def _storage_source(field_file: Any):
    """A FileCache source reading a stored file through its storage."""

    def source(sha256: str, offset: int) -> tuple[int, Any]:
        return offset, files.read_from(field_file, offset)

    return source
