"""The "test connection" button: a device driver's health check, shown, never raised."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.utils import timezone

from measurements.models import Device

log = logging.getLogger(__name__)


@dataclass
class ConnectionTest:
    """What the device page shows after a test.

    Attributes:
        ok: the device can measure now.
        reachable: the device answered; None when it could not be asked.
        runtime: runtime found on the device, if any.
        sensor: power sensor that will be used, None when energy is estimated.
        messages: findings, problems first.
    """

    ok: bool
    reachable: bool | None
    runtime: str | None = None
    sensor: str | None = None
    messages: list[str] = field(default_factory=list)


def check_connection(device: Device) -> ConnectionTest:
    """Run the driver's health check and record the device's online state.

    A device that runs no jobs (an external, imported-only device), a kind with
    no driver on this server or a driver that fails is reported in the messages,
    not raised; the device's online flag is left alone when it could not be asked.
    """
    from device_runner.devices import driver_for
    from device_runner.drivers import DriverError, driver_kinds

    if not device.runs_jobs:
        return ConnectionTest(
            ok=False,
            reachable=None,
            messages=[
                f"'{device.name}' is {device.kind_info.label}: it has no driver and never runs "
                "jobs, so there is no connection to test. Its figures come from imports."
            ],
        )
    kinds = driver_kinds()
    if device.kind not in kinds:
        return ConnectionTest(
            ok=False,
            reachable=None,
            messages=[
                f"No driver for kind '{device.kind}' on this server yet (it has: "
                f"{', '.join(kinds) or 'none'}), so the connection cannot be tested here."
            ],
        )
    try:
        # Built exactly as runjobs builds it (device_runner.runner), so the test means the same.
        report = driver_for(device).health_check()
    except DriverError as exc:
        return ConnectionTest(ok=False, reachable=None, messages=[str(exc)])
    except Exception as exc:  # noqa: BLE001 - a probe of hardware must not become a 500
        log.exception("health check of device %s crashed", device.pk)
        return ConnectionTest(
            ok=False, reachable=None, messages=[f"The health check failed: {exc}"]
        )
    fields = {"online": report.ok}
    if report.reachable:
        fields["last_seen"] = timezone.now()
    Device.objects.filter(pk=device.pk).update(**fields)
    return ConnectionTest(
        report.ok, report.reachable, report.runtime, report.sensor, list(report.messages)
    )
