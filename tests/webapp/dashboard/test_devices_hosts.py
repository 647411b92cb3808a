"""The Devices page shows the runner hosts: for which devices, last heartbeat, version, role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from measurements.actions.runner_tokens import issue_runner_token, revoke_runner_token
from measurements.models import RunnerToken
from tests.factories import make_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("bob"))
    return client


def test_it_lists_connected_idle_and_revoked_hosts(logged_in):
    make_device(name="pixel")
    live, _ = issue_runner_token("pi-lab-3", "measure", ["pixel"])
    idle, _ = issue_runner_token("gpu-box", "compress")
    gone, _ = issue_runner_token("old-laptop", "both", ["pixel"])
    now = timezone.now()
    RunnerToken.objects.filter(pk=live.pk).update(
        last_heartbeat_at=now, host_name="raspberrypi", version="0.1.0", mode="measure"
    )
    RunnerToken.objects.filter(pk=idle.pk).update(last_heartbeat_at=now - timedelta(hours=3))
    revoke_runner_token(gone)

    body = logged_in.get("/devices/").content.decode()
    rows = {
        name: body[body.index(name) :].split("</tr>")[0]
        for name in ("pi-lab-3", "gpu-box", "old-laptop")
    }

    assert "raspberrypi" in rows["pi-lab-3"] and "0.1.0" in rows["pi-lab-3"]
    assert "measure on its devices" in rows["pi-lab-3"] and ">pixel</a>" in rows["pi-lab-3"]
    assert "connected" in rows["pi-lab-3"] and "not connected" not in rows["pi-lab-3"]
    assert "not connected" in rows["gpu-box"] and "3\xa0hours ago" in rows["gpu-box"]
    assert "revoked" in rows["old-laptop"]
    assert live.key_hash not in body


def test_it_issues_lists_and_revokes_tokens_from_the_command_line(capsys):
    make_device(name="pixel")

    call_command("runnertoken", "create", "pi-lab-3", "--device", "pixel", "--role", "measure")
    key = capsys.readouterr().out.splitlines()[1]
    call_command("runnertoken", "revoke", "pi-lab-3")
    call_command("runnertoken", "list")
    listing = capsys.readouterr().out

    token = RunnerToken.objects.get(name="pi-lab-3")
    assert key.startswith("cr_") and token.key_prefix == key[3:11]
    assert token.revoked and "pi-lab-3\tmeasure\tpixel" in listing and "revoked" in listing
