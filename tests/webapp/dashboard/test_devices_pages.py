"""Device pages: list, detail, registration, and the test-connection button."""

from __future__ import annotations

import pytest

from measurements.models import Device
from tests.factories import make_device, make_job, make_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, django_user_model):
    """A staff account: registering and testing devices runs drivers on this server."""
    client.force_login(django_user_model.objects.create_user("bob", is_staff=True))
    return client


def register(client, **fields):
    data = {"name": "board", "kind": "local", "power_sensor": "none", "power_source": "mains"}
    return client.post("/devices/new/", {**data, **fields})


def test_it_lists_devices_with_state_power_and_work(logged_in):
    phone = make_device(name="pixel", kind="adb", address="R58M", battery_mah=4000, online=True)
    make_job(device=phone)
    make_job(device=phone, status="succeeded")
    make_result(job=make_job(device=phone, status="succeeded"))
    body = logged_in.get("/devices/").content.decode()
    assert "pixel" in body and "R58M" in body and "battery, 4000 mAh" in body
    assert 'class="ok">online' in body and "never seen" in body
    assert f'href="/devices/{phone.pk}/"' in body
    assert "None" not in body


def test_it_says_how_to_add_the_first_device(logged_in):
    body = logged_in.get("/devices/").content.decode()
    assert "Register one" in body and "loadcatalogue" in body


def test_it_registers_a_mains_powered_local_device(logged_in):
    response = register(logged_in, cache_mb="8", dram_mb="16384", battery_mah="3000")
    device = Device.objects.get(name="board")
    assert response.status_code == 302 and response["Location"] == f"/devices/{device.pk}/"
    assert (device.kind, device.cache_mb, device.dram_mb) == ("local", 8.0, 16384)
    assert device.battery_mah is None and device.mains_powered  # mains drops a typed capacity
    assert device.settings == {} and not device.online


def test_it_registers_a_battery_powered_phone_with_its_serial(logged_in):
    response = register(
        logged_in,
        name="pixel",
        kind="adb",
        address="R58M123",
        power_sensor="battery",
        power_source="battery",
        battery_mah="4080",
        settings='{"adb": "adb"}',  # the allow-list's name, not a path
    )
    assert response.status_code == 302
    device = Device.objects.get(name="pixel")
    assert (device.address, device.battery_mah, device.power_sensor) == ("R58M123", 4080, "battery")
    assert device.settings == {"adb": "adb"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "ssh", "address": ""}, "An ssh device needs user@host"),
        ({"kind": "ssh", "address": "nvidia@tx2; rm -rf /"}, "An ssh device needs user@host"),
        ({"kind": "adb", "address": ""}, "An adb device needs its serial"),
        ({"power_source": "battery"}, "A battery-powered device needs its capacity"),
        ({"settings": "[1, 2]"}, "Driver settings must be a JSON object"),
        ({"cache_mb": "-1"}, "greater than or equal to 0"),
        ({"idle_power_w": "-0.5"}, "greater than or equal to 0"),
    ],
)
def test_it_refuses_an_inconsistent_device(logged_in, fields, message):
    response = register(logged_in, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Device.objects.exists()


def test_it_shows_a_device_and_its_jobs(logged_in):
    device = make_device(name="tx2", kind="ssh", address="nvidia@tx2", processor="Denver2+A57")
    job = make_job(device=device)
    body = logged_in.get(f"/devices/{device.pk}/").content.decode()
    assert "nvidia@tx2" in body and "Denver2+A57" in body
    assert job.artifact.plan.canonical in body and "1 queued" in body
    assert f'action="/devices/{device.pk}/test/"' in body
    assert "None" not in body


def test_it_tests_a_local_device_and_marks_it_online(logged_in):
    device = make_device(name="here", kind="local")
    response = logged_in.post(f"/devices/{device.pk}/test/")
    body = response.content.decode()
    device.refresh_from_db()
    assert response.status_code == 200
    assert "Ready to measure" in body and "ai_edge_litert" in body
    assert device.online and device.last_seen is not None


def test_it_reports_a_local_device_that_cannot_run_litert_and_marks_it_offline(logged_in, settings):
    settings.DEVICE_EXECUTABLES = {"old-python": "/nonexistent/python3"}
    device = make_device(kind="local", online=True, settings={"python": "old-python"})
    response = logged_in.post(f"/devices/{device.pk}/test/")
    body = response.content.decode()
    device.refresh_from_db()
    assert response.status_code == 200
    assert "Reachable, but cannot measure" in body and "/nonexistent/python3" in body
    assert not device.online


@pytest.mark.parametrize(
    ("kind", "address", "options", "says"),
    [
        # Port 1 on loopback refuses at once: the board "does not answer".
        ("ssh", "someone@127.0.0.1", {"port": 1, "connect_timeout": 3}, "127.0.0.1"),
        ("adb", "SERIAL123", {"adb": "adb"}, "/nonexistent/adb"),
    ],
)
def test_it_reports_an_unreachable_remote_device_plainly(
    logged_in, settings, kind, address, options, says
):
    settings.DEVICE_EXECUTABLES = {"adb": "/nonexistent/adb"}
    device = make_device(kind=kind, address=address, settings=options, online=True)
    response = logged_in.post(f"/devices/{device.pk}/test/")
    body = response.content.decode()
    assert response.status_code == 200
    assert says in body and "Traceback" not in body
    device.refresh_from_db()
    assert not device.online


def test_it_only_tests_a_connection_on_post(logged_in):
    device = make_device()
    assert logged_in.get(f"/devices/{device.pk}/test/").status_code == 405


def test_it_says_an_external_device_has_no_connection_to_test(logged_in):
    device = make_device(name="paper-tx2", kind="external", online=False)
    response = logged_in.post(f"/devices/{device.pk}/test/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "has no driver and never runs jobs" in body and "No driver for kind" not in body
    device.refresh_from_db()
    assert device.online is False and device.last_seen is None
