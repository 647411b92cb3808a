"""What a runner needs from the queue, whether it holds database credentials or a token.

The runner's steps (claim, heartbeat, progress, compress, measure, store,
fail, release) call one ``QueueClient``; ``DirectQueueClient`` does them on
the database, ``HttpQueueClient`` through ``/api/runner/``. Jobs and
compressions travel as plain tickets, so the runner never touches a model row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from measurements.models import Device


class QueueError(RuntimeError):
    """The queue refused a call for a reason retrying will not fix."""


class TokenRefused(QueueError):
    """The server refused this host's token (revoked or unknown): the host must stop."""


@dataclass(frozen=True)
class DeviceSpec:
    """What a driver needs to know about a device."""

    id: int
    name: str
    kind: str
    address: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    power_sensor: str = "none"

    @classmethod
    def from_row(cls, device: Device) -> DeviceSpec:
        return cls(
            device.pk,
            device.name,
            device.kind,
            device.address,
            dict(device.settings or {}),
            device.power_sensor,
        )

    def as_device(self) -> Device:
        """An unsaved Device carrying these fields, for ``driver_for``."""
        return Device(
            pk=self.id,
            name=self.name,
            kind=self.kind,
            address=self.address,
            settings=self.settings,
            power_sensor=self.power_sensor,
        )


@dataclass
class JobTicket:
    """A job this host holds the lease of."""

    id: int
    owner: str
    attempts: int
    num_threads: int
    protocol: dict[str, Any]
    device: DeviceSpec
    artifact_id: int
    artifact_status: str
    plan: str
    tflite_sha256: str = ""
    artifact_error: str = ""
    compressed_by: str = ""
    progress: float = 0.0

    @property
    def pk(self) -> int:
        return self.id


@dataclass
class CompressionTicket:
    """An artifact this host holds the compression lease of, with what compressing needs."""

    artifact_id: int
    owner: str
    plan: str
    plan_steps: list[dict[str, Any]]
    model_sha256: str
    loader: str
    loader_options: dict[str, Any]
    fine_tune_epochs: int
    fine_tune_patience: int
    # How the base model arrived (compression.formats.registry); a server that
    # predates formats sends none, and every model it holds is Keras.
    model_format: str = "keras"
    # A .pt2 model's conversion made at upload (measurements.actions.model_formats.
    # stored_conversion): its .tflite's sha256, layout, seconds, max_abs_diff.
    conversion: dict[str, Any] | None = None


class QueueClient(Protocol):
    """The queue as one runner host uses it.

    Attributes:
        owner: this host's lease name (a token's hosts get it from the server).
        lease_seconds: how long a lease lasts without a heartbeat.
    """

    owner: str
    lease_seconds: int

    def devices(self, names: list[str] | None) -> list[DeviceSpec]:
        """The devices this host may serve, narrowed to ``names`` (all when None)."""

    def claim_job(self, devices: list[DeviceSpec], ready_only: bool) -> JobTicket | None:
        """Lease the oldest claimable job on ``devices``; None when there is none."""

    def heartbeat(self, job: JobTicket) -> bool:
        """Renew the job's lease. False when it is lost or cancelled."""

    def progress(self, job: JobTicket, fraction: float, stage: str, line: str = "") -> bool:
        """Record progress. False when the lease is lost."""

    def artifact(self, job: JobTicket) -> JobTicket:
        """The ticket with the artifact's status, error, compressor and .tflite hash."""

    def tflite_path(self, job: JobTicket) -> Path:
        """A local copy of the job's .tflite, verified by its hash."""

    def store_result(self, job: JobTicket, raw: dict[str, Any]) -> bool:
        """Store the measurement and finish the job. False when the lease was lost."""

    def fail(
        self, job: JobTicket, error: str, retryable: bool, device_offline: bool, log: str = ""
    ) -> str | None:
        """Record a failed attempt (``log`` goes to the job's log); the job's new status,
        or None when the lease was lost."""

    def release(self, job: JobTicket, reason: str) -> bool:
        """Give the job back without spending an attempt. False when no longer held."""

    def claim_compression(self, artifact_id: int | None) -> CompressionTicket | None:
        """Take the compression lease of that artifact (or of any pending one)."""

    def renew_compression(self, ticket: CompressionTicket) -> bool:
        """Renew the compression lease. False when another host took it over."""

    def release_compression(self, ticket: CompressionTicket) -> bool:
        """Give the artifact back uncompressed."""

    def fail_compression(self, ticket: CompressionTicket, error: str) -> bool:
        """Mark the artifact's compression failed for good."""

    def model_path(self, ticket: CompressionTicket) -> Path:
        """A local copy of the base model, verified by its hash."""

    def converted_path(self, ticket: CompressionTicket) -> Path:
        """A local copy of a .pt2 model's .tflite converted at upload (``ticket.conversion``)."""

    def complete_compression(self, ticket: CompressionTicket, document: dict[str, Any]) -> bool:
        """Store what the compression child produced. False when the lease was lost."""
