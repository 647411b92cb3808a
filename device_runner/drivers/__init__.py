"""Device drivers: one interface (``base.Driver``), a registry by device kind.

Importing this package registers the built-in kinds. No Django import.
"""

from device_runner.drivers import adb, local, ssh
from device_runner.drivers.base import (
    Driver,
    DriverError,
    HealthReport,
    MeasurementResult,
    PreparedArtifact,
    driver_kinds,
    get_driver,
    register_driver,
)

__all__ = [
    "Driver",
    "DriverError",
    "HealthReport",
    "MeasurementResult",
    "PreparedArtifact",
    "driver_kinds",
    "adb",
    "get_driver",
    "local",
    "register_driver",
    "ssh",
]
