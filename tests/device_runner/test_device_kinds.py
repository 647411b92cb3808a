"""Device kinds: one table in measurements; the driver registry and settings schema match it."""

from __future__ import annotations

import pytest

from device_runner.drivers import driver_kinds
from device_runner.drivers.settings_schema import SCHEMAS, DeviceSettingsError, check_address
from measurements.device_kinds import DEVICE_KINDS, JOB_KINDS, KINDS, address_help, get_kind
from measurements.models import Device


def test_it_has_a_driver_for_every_kind_that_runs_jobs_and_for_no_other():
    assert sorted(JOB_KINDS) == driver_kinds() == ["adb", "local", "ssh"]
    assert "external" in KINDS and not get_kind("external").runs_jobs


def test_it_covers_exactly_the_table_in_the_settings_schema_and_model_choices():
    assert set(SCHEMAS) == set(KINDS)
    field = Device._meta.get_field("kind")
    assert field.choices == [(kind.code, kind.label) for kind in DEVICE_KINDS]
    assert Device.Kind.EXTERNAL == "external" and Device.Kind.LOCAL.label == "this host's CPU"
    assert max(len(code) for code in KINDS) <= field.max_length


def test_it_refuses_an_address_exactly_for_the_kinds_that_have_none():
    for kind in DEVICE_KINDS:
        if kind.needs_address:
            continue
        with pytest.raises(DeviceSettingsError, match=f"A {kind.code} device has no address"):
            check_address(kind.code, "pi@host")
        assert check_address(kind.code, "") == ""
    assert check_address("ssh", "pi@host") == "pi@host"
    assert address_help() == (
        "user@host for ssh, the serial (or host:port) for adb; empty for local and external."
    )
    with pytest.raises(ValueError, match="Received: 'serial'"):
        get_kind("serial")
