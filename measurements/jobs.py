"""Queue behaviour of the Job model: claim, lease, heartbeat, finish, retry.

Any number of runners on many hosts share one PostgreSQL table. A claim
selects the oldest claimable row with ``SELECT … FOR UPDATE SKIP LOCKED`` so
two runners never pick the same row, then marks it with a conditional UPDATE
(status and attempts unchanged since the read). On SQLite, which has no row
locks, that conditional UPDATE alone makes a single runner safe. A runner
holds a lease it renews with heartbeats; a job whose lease expired (runner
killed, host lost) is claimable again. Every state change is a guarded
UPDATE, so a runner that lost its lease cannot overwrite another's work.

A job whose artifact another runner is compressing under a live lease is not
claimable: runners take other work meanwhile instead of waiting on it, and
the job becomes claimable once the artifact is ready or its lease expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

# Retry backoff: base * 2**(attempts - 1) seconds, capped.
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 600
LOG_LINE_MAX = 2000
LEASE_LOST_MESSAGE = "The runner holding this job stopped answering (lease expired)."


def backoff_seconds(attempts: int) -> int:
    """Seconds to wait before retry number ``attempts`` (1-based)."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)


class JobQueueMixin:
    """Queue methods for ``measurements.models.Job`` (kept apart to keep models.py short)."""

    @classmethod
    def claimable(cls, now: datetime) -> Q:
        """Queued jobs past their backoff, and running jobs whose lease expired.

        Either way, not while their artifact is being compressed under a live lease.
        """
        queued = Q(status="queued") & (Q(not_before__isnull=True) | Q(not_before__lte=now))
        expired = Q(status="running", lease_expires_at__lt=now, attempts__lt=F("max_attempts"))
        artifacts = cls._meta.get_field("artifact").related_model.objects
        compressing = artifacts.filter(artifacts.model.busy(now)).values("pk")
        return (queued | expired) & ~Q(artifact_id__in=compressing)

    @classmethod
    def claim(
        cls,
        owner: str,
        device_ids: Iterable[int],
        lease_seconds: int,
        now: datetime | None = None,
        where: Q | None = None,
    ):
        """Lease the oldest claimable job on one of ``device_ids`` to ``owner``.

        ``where`` narrows the candidates further (a measure-only runner takes
        only jobs whose artifact is ready).

        Returns:
            The claimed Job (status running, attempts incremented), or None
            when nothing is claimable right now.
        """
        now = now or timezone.now()
        with transaction.atomic():
            rows = cls.objects.filter(cls.claimable(now), device_id__in=list(device_ids))
            if where is not None:
                rows = rows.filter(where)
            rows = rows.order_by("created_at", "id")
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)
            job = rows.first()
            if job is None:
                return None
            won = cls.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts).update(
                status="running",
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=F("attempts") + 1,
                started_at=now,
                progress=0.0,
                stage="claimed",
            )
        if not won:
            return None
        job.refresh_from_db()
        return job

    @classmethod
    def reap_exhausted(cls, now: datetime | None = None) -> int:
        """Fail running jobs whose lease expired with no attempts left.

        Returns:
            How many jobs were failed.
        """
        now = now or timezone.now()
        return cls.objects.filter(
            status="running", lease_expires_at__lt=now, attempts__gte=F("max_attempts")
        ).update(
            status="failed",
            finished_at=now,
            lease_owner="",
            lease_expires_at=None,
            error=Concat(F("error"), Value(f"\n{LEASE_LOST_MESSAGE}")),
        )

    def _mine(self, owner: str):
        return type(self).objects.filter(pk=self.pk, status="running", lease_owner=owner)

    def heartbeat(self, owner: str, lease_seconds: int) -> bool:
        """Extend the lease. False means the lease is lost or the job was cancelled."""
        until = timezone.now() + timedelta(seconds=lease_seconds)
        return bool(self._mine(owner).update(lease_expires_at=until))

    def report(self, owner: str, progress: float, stage: str, line: str = "") -> bool:
        """Record progress (0..1), the stage, and append a log line. False if lease lost."""
        fields = {"progress": min(max(float(progress), 0.0), 1.0), "stage": stage[:50]}
        if line:
            fields["log"] = Concat(F("log"), Value(line[:LOG_LINE_MAX] + "\n"))
        return bool(self._mine(owner).update(**fields))

    def succeed(self, owner: str) -> bool:
        """Mark done; call inside the transaction that stores the Result."""
        return bool(
            self._mine(owner).update(
                status="succeeded",
                progress=1.0,
                stage="done",
                finished_at=timezone.now(),
                lease_owner="",
                lease_expires_at=None,
                error="",
            )
        )

    def fail(self, owner: str, error: str, retryable: bool = True) -> str | None:
        """Record a failed attempt: requeue with backoff, or fail for good.

        Returns:
            The new status ("queued" or "failed"), or None if the lease was lost.
        """
        self.refresh_from_db(fields=["attempts", "max_attempts"])
        now = timezone.now()
        common = {"lease_owner": "", "lease_expires_at": None, "error": error}
        if retryable and self.attempts < self.max_attempts:
            delay = timedelta(seconds=backoff_seconds(self.attempts))
            updated = self._mine(owner).update(status="queued", not_before=now + delay, **common)
            status = "queued"
        else:
            updated = self._mine(owner).update(status="failed", finished_at=now, **common)
            status = "failed"
        return status if updated else None

    def release(self, owner: str) -> bool:
        """Give the job back untouched (runner shutting down): the attempt does not count."""
        return bool(
            self._mine(owner).update(
                status="queued",
                attempts=F("attempts") - 1,
                lease_owner="",
                lease_expires_at=None,
                stage="released",
                progress=0.0,
            )
        )

    def cancel(self) -> bool:
        """Cancel a queued or running job; a runner notices at its next heartbeat."""
        return bool(
            type(self)
            .objects.filter(pk=self.pk, status__in=["queued", "running"])
            .update(status="cancelled", finished_at=timezone.now(), lease_expires_at=None)
        )

    def retry(self) -> bool:
        """Queue a failed or cancelled job again with a fresh attempt budget."""
        return bool(
            type(self)
            .objects.filter(pk=self.pk, status__in=["failed", "cancelled"])
            .update(
                status="queued",
                attempts=0,
                not_before=None,
                error="",
                progress=0.0,
                stage="",
                finished_at=None,
            )
        )
