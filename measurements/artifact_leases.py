"""Compression leases on the Artifact model: one compressor at a time, retaken when it dies.

Like a job, the artifact being compressed names its lease owner and an
expiry that the compressor renews while it works. An artifact is
compressible when it is neither ready nor failed and nobody holds a live
lease on it, whatever its other status (pending, an imported artifact
without files, or "compressing" under a lease that expired because its
runner was killed). Every change is a guarded UPDATE naming the owner, so a
compressor that lost its lease cannot overwrite the one that took over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

# Statuses no compression changes: the files exist, or compressing cannot work.
SETTLED = ("ready", "failed")
COMPRESSING = "compressing"


class ArtifactLeaseMixin:
    """Lease methods for ``measurements.models.Artifact`` (kept apart to keep models.py short)."""

    @classmethod
    def busy(cls, now: datetime) -> Q:
        """Artifacts some compressor holds under a live lease."""
        return Q(status=COMPRESSING, lease_expires_at__gte=now)

    @classmethod
    def compressible(cls, now: datetime) -> Q:
        """Artifacts a runner may start compressing now."""
        return ~Q(status__in=SETTLED) & ~cls.busy(now)

    def held_by(self, owner: str) -> QuerySet:
        """This artifact's row while ``owner`` holds its lease (empty once lost)."""
        return type(self).objects.filter(pk=self.pk, status=COMPRESSING, lease_owner=owner)

    def claim_compression(
        self, owner: str, lease_seconds: int, now: datetime | None = None
    ) -> bool:
        """Take the compression lease if the artifact is compressible.

        Returns:
            True when ``owner`` now holds the lease and must compress the
            artifact; False when it is ready, failed, or held by another.
        """
        now = now or timezone.now()
        rows = type(self).objects.filter(type(self).compressible(now), pk=self.pk)
        return bool(
            rows.update(
                status=COMPRESSING,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                error="",
            )
        )

    def renew_compression(self, owner: str, lease_seconds: int) -> bool:
        """Extend the lease. False means another compressor took the artifact over."""
        until = timezone.now() + timedelta(seconds=lease_seconds)
        return bool(self.held_by(owner).update(lease_expires_at=until))

    def release_compression(self, owner: str) -> bool:
        """Give the artifact back uncompressed (runner stopping): any runner may take it."""
        return bool(
            self.held_by(owner).update(status="pending", lease_owner="", lease_expires_at=None)
        )

    def fail_compression(self, owner: str, error: str) -> bool:
        """Mark the compression failed for good; retrying the same plan will not help."""
        return bool(
            self.held_by(owner).update(
                status="failed", error=error, lease_owner="", lease_expires_at=None
            )
        )
