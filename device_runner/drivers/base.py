"""The interface every device kind implements, and the registry by kind.

A driver pushes an artifact to its device (``prepare``), measures it there
with the protocol (``measure``), says whether the device is usable
(``health_check``) and removes what it pushed (``cleanup``). ``runjobs`` only
talks to this interface, so a Jetson over SSH or a phone over adb plugs in by
registering a new kind. Plain Python: no Django import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypedDict

from measurements.protocol import ProtocolConfig


class DriverError(RuntimeError):
    """A device could not prepare or measure; the message names the problem.

    Args:
        message: what went wrong, with the device's own words where there are any.
        device_offline: true when the device itself is unreachable (not the model's
            fault), so the runner can mark the device offline.
    """

    def __init__(self, message: str, *, device_offline: bool = False) -> None:
        super().__init__(message)
        self.device_offline = device_offline


@dataclass(frozen=True)
class PreparedArtifact:
    """An artifact ready to run on a device.

    Attributes:
        local_path: the file on the runner host.
        device_path: where the device reads it (the same path for ``local``).
        sha256: content hash, recorded in the Result's provenance.
        size_bytes: file size.
    """

    local_path: str
    device_path: str
    sha256: str
    size_bytes: int


@dataclass
class HealthReport:
    """Whether a device can take measurements.

    Attributes:
        ok: the device can measure now.
        reachable: the device answered (always true for ``local``).
        runtime: runtime name and version found there, if any.
        sensor: the power sensor that will be used, or None (energy estimated).
        messages: human-readable findings, problems first.
    """

    ok: bool
    reachable: bool
    runtime: str | None
    sensor: str | None
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


class MeasurementResult(TypedDict):
    """Raw figures of one measurement, as every driver returns them.

    Times in ms, memory in bytes, energy in mJ per inference, power in W.
    ``energy``/``op_breakdown`` are None when not measured, with the reason in
    ``energy_reason``/``op_breakdown_reason``; ``op_breakdown_method`` says how
    a breakdown was obtained.
    """

    latency: dict[str, Any]
    init_ms: float
    first_inference_ms: float
    peak_memory_bytes: int
    baseline_memory_bytes: int | None
    energy: dict[str, Any] | None
    energy_reason: str | None
    power: list[list[float]] | None
    op_breakdown: dict[str, Any] | None
    op_breakdown_method: str | None
    op_breakdown_reason: str | None
    provenance: dict[str, Any]
    protocol: dict[str, Any]


class Driver:
    """Base class of device drivers.

    Args:
        device_settings: the Device's settings (host, paths, timeouts…);
            each kind documents the keys it reads.
    """

    kind: ClassVar[str] = "abstract"

    def __init__(self, device_settings: Mapping[str, Any] | None = None) -> None:
        self.settings: dict[str, Any] = dict(device_settings or {})

    def prepare(self, artifact_path: str | Path) -> PreparedArtifact:
        """Make ``artifact_path`` (a .tflite on the runner host) runnable on the device."""
        raise NotImplementedError

    def measure(
        self, prepared: PreparedArtifact, num_threads: int, protocol: ProtocolConfig
    ) -> MeasurementResult:
        """Measure a prepared artifact at ``num_threads`` with the protocol."""
        raise NotImplementedError

    def health_check(self) -> HealthReport:
        """Whether the device is reachable, has a runtime and a power sensor."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Remove what ``prepare`` left on the device (idempotent)."""


def check_threads(num_threads: object) -> int:
    """Refuse a thread count that is not a positive integer (every driver's rule).

    Raises:
        ValueError: naming the value received.
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(
            f"num_threads must be an integer >= 1. Received: num_threads={num_threads!r}"
        )
    return num_threads


def file_identity(path: str | Path) -> tuple[str, int]:
    """SHA-256 and size of a file, raising ``DriverError`` if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        size = Path(path).stat().st_size
    except OSError as exc:
        raise DriverError(f"Cannot read artifact {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest(), size


_REGISTRY: dict[str, type[Driver]] = {}


def register_driver(kind: str) -> Callable[[type[Driver]], type[Driver]]:
    """Class decorator registering a driver under a device kind."""

    def decorate(cls: type[Driver]) -> type[Driver]:
        if kind in _REGISTRY and _REGISTRY[kind] is not cls:
            raise ValueError(f"Driver kind already registered. Received: kind={kind!r}")
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return decorate


def driver_kinds() -> list[str]:
    """Registered device kinds, sorted."""
    return sorted(_REGISTRY)


def get_driver(kind: str, device_settings: Mapping[str, Any] | None = None) -> Driver:
    """A driver instance for a device kind.

    Raises:
        DriverError: the kind is not registered (the message lists the known ones).
    """
    try:
        cls = _REGISTRY[kind]
    except KeyError:
        raise DriverError(
            f"No driver for device kind {kind!r}; known kinds: {', '.join(driver_kinds())}"
        ) from None
    return cls(device_settings)
