"""A device's address and settings, checked per driver kind before any driver runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from device_runner.drivers import DriverError
from device_runner.drivers.settings_schema import (
    DeviceSettingsError,
    LabPolicy,
    check_address,
    resolve,
)
from device_runner.drivers.ssh import SshDriver


@pytest.fixture
def lab(tmp_path: Path) -> LabPolicy:
    files = tmp_path / "device-files"
    files.mkdir()
    (files / "jetson_ed25519").write_text("key")
    return LabPolicy({"adb": "/opt/platform-tools/adb", "py311": sys.executable}, files)


@pytest.mark.parametrize(
    ("kind", "address"),
    [
        ("ssh", "-oProxyCommand=touch /tmp/pwned"),
        ("ssh", "pi@host; rm -rf /"),
        ("ssh", "pi@-oProxyCommand=x"),
        ("ssh", "-l@host"),
        ("ssh", "pi@host:22"),
        ("ssh", ""),
        ("adb", "-s"),
        ("adb", "R58M 123"),
        ("adb", "$(reboot)"),
        ("local", "somewhere"),
    ],
)
def test_it_refuses_an_address_that_could_become_an_option_or_a_command(kind, address):
    with pytest.raises(DeviceSettingsError, match="Received") as refused:
        check_address(kind, address)
    assert refused.value.field == "address"


@pytest.mark.parametrize(
    ("kind", "address"),
    [
        ("ssh", "nvidia@tx2.lab"),
        ("ssh", "pi@192.168.1.20"),
        ("ssh", "fe80::1"),
        ("adb", "R58M123"),
        ("adb", "192.168.1.5:5555"),
        ("local", ""),
    ],
)
def test_it_accepts_plain_addresses(kind, address):
    assert check_address(kind, address) == address


def test_it_names_executables_only_from_the_allow_list(lab):
    resolved = resolve("adb", "R58M", {"adb": "adb"}, lab)
    assert resolved["adb"] == "/opt/platform-tools/adb"
    for path in ("/usr/bin/touch", "adb; touch x", "../adb"):
        with pytest.raises(DeviceSettingsError, match=r"DEVICE_EXECUTABLES: adb, py311"):
            resolve("adb", "R58M", {"adb": path}, lab)
    with pytest.raises(DeviceSettingsError, match="python"):
        resolve("local", "", {"python": "/usr/bin/touch"}, lab)
    assert resolve("local", "", {"python": "py311"}, lab)["python"] == sys.executable


def test_it_keeps_server_files_under_the_device_files_directory(lab, tmp_path):
    key = resolve("ssh", "nvidia@tx2", {"key_path": "jetson_ed25519"}, lab)["key_path"]
    assert key == str(lab.files_root / "jetson_ed25519")
    outside = tmp_path / "secret"
    outside.write_text("x")
    (lab.files_root / "link").symlink_to(outside)
    for path in ("/etc/passwd", "../secret", str(outside), "link", "-i"):
        with pytest.raises(DeviceSettingsError, match="device-files directory"):
            resolve("ssh", "nvidia@tx2", {"key_path": path}, lab)
    for name in ("benchmark_binary",):
        with pytest.raises(DeviceSettingsError, match=name):
            resolve("adb", "R58M", {name: "/bin/sh"}, lab)


@pytest.mark.parametrize(
    ("kind", "options", "key"),
    [
        ("ssh", {"address": "root@evil"}, "address"),  # the address is the Device's, not JSON's
        ("ssh", {"host": "-oProxyCommand=x"}, "host"),
        ("ssh", {"user": "-l"}, "user"),
        ("ssh", {"port": 0}, "port"),
        ("ssh", {"port": True}, "port"),
        ("ssh", {"port": 10**400}, "port"),
        ("ssh", {"work_dir": "x; rm -rf /"}, "work_dir"),
        ("ssh", {"python": "-c"}, "python"),
        ("ssh", {"host_key_policy": "no"}, "host_key_policy"),
        ("ssh", {"rail": ["VDD_IN", "$(id)"]}, "rail"),
        ("local", {"env": {"LD_PRELOAD": "/tmp/x.so"}}, "env"),
        ("local", {"rapl_root": "/etc"}, "rapl_root"),
        ("local", {"timeout_seconds": float("nan")}, "timeout_seconds"),
        ("adb", {"taskset": "f0; reboot"}, "taskset"),
        ("adb", {"current_sign": 2}, "current_sign"),
        ("adb", {"remote_dir": "/data/local/tmp`id`"}, "remote_dir"),
    ],
)
def test_it_refuses_a_bad_or_unknown_setting_naming_it(lab, kind, options, key):
    address = {"ssh": "nvidia@tx2", "adb": "R58M", "local": ""}[kind]
    with pytest.raises(DeviceSettingsError, match=key) as refused:
        resolve(kind, address, options, lab)
    assert refused.value.field == "settings"


def test_it_gives_an_external_device_no_address_and_no_settings(lab):
    assert resolve("external", "", {}, lab) == {}
    with pytest.raises(DeviceSettingsError, match="external device has no address"):
        resolve("external", "pi@lab", {}, lab)
    with pytest.raises(DeviceSettingsError) as refused:
        resolve("external", "", {"adb": "adb"}, lab)
    assert refused.value.args[0] == "adb" or "adb" in str(refused.value)


def test_it_refuses_settings_that_are_not_an_object(lab):
    for value in (None, [], "x"):
        with pytest.raises(DeviceSettingsError, match="JSON object"):
            resolve("local", "", value, lab)


def test_the_ssh_driver_itself_never_passes_an_option_as_its_target():
    with pytest.raises(DriverError, match="not user@host"):
        SshDriver({"address": "-oProxyCommand=touch /tmp/x"})
    with pytest.raises(DriverError, match="not user@host"):
        SshDriver({"address": "-l@host"})


@pytest.mark.django_db
def test_a_stored_device_breaking_the_schema_never_reaches_its_driver(tmp_path, settings):
    from device_runner.connection import test_connection
    from device_runner.devices import driver_for
    from measurements.models import Device

    marker = tmp_path / "ran"
    script = tmp_path / "evil-adb"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    settings.DEVICE_EXECUTABLES = {"adb": "adb"}
    # A row written before the schema existed (or straight into the database).
    device = Device.objects.create(
        name="old", kind="adb", address="R58M", settings={"adb": str(script)}
    )
    with pytest.raises(DriverError, match="Device old: adb must be the name"):
        driver_for(device)
    report = test_connection(device)
    assert not report.ok and "DEVICE_EXECUTABLES" in report.messages[0]
    assert not marker.exists()
