"""Device kinds: what each one is, what its address holds, and whether it runs jobs.

One table, free of Django: the database's ``Device.kind`` choices, the device
form's address help, which devices the jobs form offers and the queue accepts,
and the settings schema (``device_runner.drivers.settings_schema``) read it.
Every kind that runs jobs has a driver registered under its code in
``device_runner.drivers``; measurements may not import device_runner, so
tests/device_runner/test_device_kinds.py checks the registry against this
table instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceKind:
    """One way Compresso reaches a device.

    Attributes:
        code: stored in ``Device.kind`` and the driver registry's key (at most 8 characters).
        label: what people read.
        address: what the device's address holds (``user@host``), empty when it has none.
        runs_jobs: whether jobs may be queued on it (it has a driver); external devices
            are known only from imported results.
    """

    code: str
    label: str
    address: str
    runs_jobs: bool

    @property
    def needs_address(self) -> bool:
        return bool(self.address)


DEVICE_KINDS: tuple[DeviceKind, ...] = (
    DeviceKind("local", "this host's CPU", address="", runs_jobs=True),
    DeviceKind("ssh", "Linux board over SSH", address="user@host", runs_jobs=True),
    DeviceKind(
        "adb", "Android phone over adb", address="the serial (or host:port)", runs_jobs=True
    ),
    # Another lab's or a paper's device: results are imported, never measured here.
    DeviceKind("external", "external (no driver, never runs jobs)", address="", runs_jobs=False),
)
KINDS: dict[str, DeviceKind] = {kind.code: kind for kind in DEVICE_KINDS}
# Kinds a job may be queued on.
JOB_KINDS: tuple[str, ...] = tuple(kind.code for kind in DEVICE_KINDS if kind.runs_jobs)


def get_kind(code: str) -> DeviceKind:
    """The device kind ``code``.

    Raises:
        ValueError: no kind has that code.
    """
    try:
        return KINDS[code]
    except KeyError:
        known = ", ".join(KINDS)
        raise ValueError(
            f"Unknown device kind; expected one of {known}. Received: {code!r}"
        ) from None


def address_help() -> str:
    """What to type as the address, per kind: ``user@host for ssh, …; empty for local and …``."""
    typed = [f"{kind.address} for {kind.code}" for kind in DEVICE_KINDS if kind.needs_address]
    empty = [kind.code for kind in DEVICE_KINDS if not kind.needs_address]
    return f"{', '.join(typed)}; empty for {' and '.join(empty)}."
