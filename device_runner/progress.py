"""Progress of a job: kept on the Job row (the source of truth) and streamed.

Channel layers drop messages by design and the in-memory layer cannot cross
processes, so pages read the row and treat the stream as a fast path.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from measurements.models import Job

log = logging.getLogger(__name__)


def job_group(job_id: int) -> str:
    """Channels group of one job's watchers."""
    return f"job-{job_id}"


def device_group(device_id: int) -> str:
    """Channels group of one device's watchers."""
    return f"device-{device_id}"


def publish(job: Job, owner: str, fraction: float, stage: str, line: str = "") -> bool:
    """Record progress on the row, then stream it. False if the lease is lost."""
    if not job.report(owner, fraction, stage, line):
        return False
    job.progress, job.stage = min(max(fraction, 0.0), 1.0), stage
    broadcast(job.pk, job.device_id, {"progress": job.progress, "stage": stage, "line": line})
    return True


def broadcast(job_id: int, device_id: int, payload: dict[str, Any]) -> None:
    """Send a progress event to the job's and the device's groups (best effort)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "job.progress", "job": job_id, **payload}
    try:
        for group in (job_group(job_id), device_group(device_id)):
            async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # noqa: BLE001 - the row already holds the truth
        log.warning("progress stream unavailable (%s); the Job row still has it", exc)
