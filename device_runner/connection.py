"""``test_connection``: can a device measure now? The dashboard and ``testdevice`` call it."""

from __future__ import annotations

from device_runner.devices import driver_for
from device_runner.drivers import DriverError, HealthReport
from measurements.models import Device


def test_connection(device: Device) -> HealthReport:
    """Run the device's driver health check; never raises for a device problem.

    Args:
        device: the device to check.

    Returns:
        The driver's report (reachability, runtime, sensor, plain-language
        messages); a driver that cannot even be built (unknown kind, bad
        settings) gives a failed report saying why.
    """
    try:
        return driver_for(device).health_check()
    except DriverError as exc:
        return HealthReport(
            ok=False, reachable=False, runtime=None, sensor=None, messages=[str(exc)]
        )


test_connection.__test__ = False  # a library function, not a pytest test
