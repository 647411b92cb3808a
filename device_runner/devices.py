"""The one way to build a device's driver, for runjobs and the dashboard alike."""

from __future__ import annotations

from device_runner.drivers import Driver, get_driver
from measurements.models import Device


def driver_settings(device: Device) -> dict:
    """The driver's settings: the device's JSON settings plus its address and sensor.

    ``address`` is ``user@host`` for ssh and the serial for adb; a value set
    explicitly in the settings JSON wins.
    """
    return {"address": device.address, "sensor": device.power_sensor, **(device.settings or {})}


def driver_for(device: Device) -> Driver:
    """A driver for ``device``, built from its kind and settings."""
    return get_driver(device.kind, driver_settings(device))
