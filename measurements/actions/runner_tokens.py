"""Runner tokens: issue one (the key is shown once), recognise it, revoke it.

A revoked token stops working at once: its next call gets a 401, and the
jobs its hosts hold are given back to the queue (their attempt not
counted), so another host can take them without waiting for the lease to
expire.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from measurements.models import Artifact, Device, Job, RunnerToken

KEY_PREFIX = "cr_"  # "compresso runner": recognisable in a leaked log or config file
MAX_KEY_LENGTH = 200


def hash_key(key: str) -> str:
    """Hex SHA-256 of a runner key: the only form of it the database keeps."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_runner_token(
    name: str,
    role: str = RunnerToken.Role.BOTH,
    device_names: Iterable[str] = (),
    created_by: Any = None,
) -> tuple[RunnerToken, str]:
    """Create a token for one host; returns it and its key (shown once, never stored).

    Raises:
        ValueError: the name is empty or taken, the role unknown, or a device unknown.
    """
    name = (name or "").strip()
    if not name:
        raise ValueError("A runner token needs a name (which host it is for). Received: name=''")
    if role not in RunnerToken.Role.values:
        raise ValueError(f"Unknown role; use one of {RunnerToken.Role.values}. Received: {role=}")
    if RunnerToken.objects.filter(name=name).exists():
        raise ValueError(f"A runner token named {name!r} already exists. Received: {name=}")
    devices = _devices(device_names)
    if role != RunnerToken.Role.COMPRESS and not devices:
        raise ValueError(f"A {role!r} token needs at least one device. Received: devices=[]")
    token = RunnerToken(
        name=name,
        role=role,
        created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
    )
    key = set_new_key(token)
    with transaction.atomic():
        token.save()
        token.devices.set(devices)
    return token, key


def set_new_key(token: RunnerToken) -> str:
    """Give an unsaved token a fresh key; returns the key (only its hash is kept)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token.key_hash = hash_key(key)
    token.key_prefix = key[len(KEY_PREFIX) : len(KEY_PREFIX) + 8]
    return key


def _devices(names: Iterable[str]) -> list[Device]:
    names = sorted(set(names))
    devices = list(Device.objects.filter(name__in=names))
    missing = sorted(set(names) - {d.name for d in devices})
    if missing:
        raise ValueError(f"Unknown device(s): {', '.join(missing)}. Received: devices={names}")
    return devices


def token_for_key(key: str) -> RunnerToken | None:
    """The live or revoked token whose key this is, or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return RunnerToken.objects.filter(key_hash=hash_key(key)).first()


def revoke_runner_token(token: RunnerToken) -> int:
    """Revoke the token and give back the jobs and compressions its hosts hold.

    Returns:
        How many running jobs were released to the queue.
    """
    with transaction.atomic():
        RunnerToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        released = Job.objects.filter(
            status=Job.Status.RUNNING, lease_owner__startswith=token.owner_prefix
        ).update(
            status=Job.Status.QUEUED,
            attempts=F("attempts") - 1,
            lease_owner="",
            lease_expires_at=None,
            stage="released",
            progress=0.0,
        )
        # Its compressions too: another host may start them again at once.
        Artifact.objects.filter(
            status=Artifact.Status.COMPRESSING, lease_owner__startswith=token.owner_prefix
        ).update(status=Artifact.Status.PENDING, lease_owner="", lease_expires_at=None)
    token.refresh_from_db()
    return released


def record_contact(token: RunnerToken, host_name: str, version: str, mode: str) -> None:
    """Note that the token's host called: when, from which host, which version and mode."""
    RunnerToken.objects.filter(pk=token.pk).update(
        last_heartbeat_at=timezone.now(),
        host_name=host_name[:200],
        version=version[:50],
        mode=mode[:12],
    )
