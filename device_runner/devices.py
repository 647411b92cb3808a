"""The one way to build a device's driver, for runjobs and the dashboard alike."""

from __future__ import annotations

from django.conf import settings

from device_runner.drivers import Driver, DriverError, get_driver
from device_runner.drivers.settings_schema import DeviceSettingsError, LabPolicy, resolve
from measurements.models import Device


def lab_policy() -> LabPolicy:
    """The executables and the device-files directory this lab's settings allow."""
    return LabPolicy(settings.DEVICE_EXECUTABLES, settings.DEVICE_FILES_DIR)


def check_device(kind: str, address: str, device_settings: object) -> dict:
    """The settings a driver would receive; raises ``DeviceSettingsError`` naming a problem."""
    return resolve(kind, address, device_settings, lab_policy())


def driver_settings(device: Device) -> dict:
    """The driver's settings: the device's checked JSON settings plus its address and sensor.

    ``address`` is ``user@host`` for ssh and the serial for adb. Settings
    stored before the schema existed are checked again here, so a row naming
    an executable outside the allow-list never runs it.

    Raises:
        DriverError: the address or settings break the kind's schema.
    """
    try:
        checked = check_device(device.kind, device.address, device.settings or {})
    except DeviceSettingsError as exc:
        raise DriverError(f"Device {device.name}: {exc}") from None
    return {"address": device.address, "sensor": device.power_sensor, **checked}


def driver_for(device: Device) -> Driver:
    """A driver for ``device``, built from its kind and checked settings."""
    return get_driver(device.kind, driver_settings(device))
