"""Writing: registering devices and datasets, queueing, cancelling and retrying jobs, deleting.

Anonymous clients may not write; writes need a token (or a session); registering devices and
datasets and deleting need staff (tests/webapp/api/test_access.py holds the refusals).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from measurements.models import Artifact, Dataset, Device, Job, Plan, Result

pytestmark = pytest.mark.django_db

JETSON_NANO = {
    "name": "jetson-nano",
    "kind": "ssh",
    "address": "nvidia@nano.lab",
    "processor": "Cortex-A57",
    "dram_mb": 4096,
    "power_sensor": "hwmon",
    "battery_mah": None,
}


def test_it_refuses_every_write_without_credentials(anonymous, world):
    job = world.jobs["queued"]
    writes = [
        ("post", "/api/devices/", JETSON_NANO),
        ("post", "/api/datasets/", {"name": "d", "source": "bundled"}),
        ("post", "/api/models/", {}),
        ("post", "/api/jobs/", {"models": [world.lenet.pk]}),
        ("post", f"/api/jobs/{job.pk}/cancel/", {}),
        ("post", f"/api/jobs/{job.pk}/retry/", {}),
        ("post", "/api/results/import", {}),
        ("delete", f"/api/results/{world.results['base'].pk}/", None),
        ("patch", f"/api/devices/{world.laptop.pk}/", {"processor": "x"}),
    ]
    for method, url, body in writes:
        response = getattr(anonymous, method)(url, body, format="json")
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"
    assert not Device.objects.filter(name="jetson-nano").exists()
    assert Job.objects.get(pk=job.pk).status == "queued"
    assert Result.objects.count() == 4


def test_it_refuses_a_wrong_token(anonymous, world):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anonymous.post("/api/devices/", JETSON_NANO, format="json")
    assert response.status_code == 401 and "Invalid token" in response.json()["detail"]
    assert not Device.objects.filter(name="jetson-nano").exists()


def test_it_registers_a_device_with_a_staff_token(staff):
    response = staff.post("/api/devices/", JETSON_NANO, format="json")
    assert response.status_code == 201, response.content
    device = Device.objects.get(name="jetson-nano")
    assert (device.kind, device.address, device.dram_mb) == ("ssh", "nvidia@nano.lab", 4096)
    assert device.power_sensor == "hwmon" and device.online is False
    assert response.json()["id"] == device.pk and response.json()["mains_powered"] is True


def test_it_accepts_a_signed_in_session_with_its_csrf_token(user):
    user.is_staff = True  # registering a device is staff's
    user.save()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    without = browser.post("/api/devices/", JETSON_NANO, content_type="application/json")
    assert without.status_code == 403 and "CSRF" in without.json()["detail"]
    browser.get("/accounts/login/")  # a page with a form sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/devices/", JETSON_NANO, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201
    assert Device.objects.filter(name="jetson-nano").exists()


def test_it_refuses_a_device_with_a_bad_kind_or_a_negative_idle_power(staff):
    bad = staff.post("/api/devices/", {**JETSON_NANO, "kind": "fax"}, format="json")
    assert bad.status_code == 400 and "kind" in bad.json()
    bad = staff.post("/api/devices/", {**JETSON_NANO, "idle_power_w": -1}, format="json")
    assert bad.status_code == 400 and "idle_power_w" in bad.json()
    nul = {**JETSON_NANO, "settings": {"port": "22\u0000"}}
    bad = staff.post("/api/devices/", nul, format="json")
    assert bad.status_code == 400 and "settings" in bad.json()
    assert not Device.objects.filter(name="jetson-nano").exists()


def test_it_registers_the_bundled_dataset_with_its_splits(staff):
    response = staff.post(
        "/api/datasets/", {"name": "digits-api", "source": "bundled"}, format="json"
    )
    assert response.status_code == 201, response.content
    row = Dataset.objects.get(name="digits-api")
    assert (row.num_classes, row.input_shape) == (10, [8, 8, 1])
    assert row.train_size + row.val_size + row.test_size == 1797  # scikit-learn's digits
    again = staff.post("/api/datasets/", {"name": "digits-api", "source": "bundled"})
    assert again.status_code == 400 and "name" in again.json()
    bad = staff.post(
        "/api/datasets/",
        {"name": "digits-2", "source": "bundled", "options": {"bogus": 1}},
        format="json",
    )
    assert bad.status_code == 400 and "bogus" in bad.json()["options"][0]
    assert Dataset.objects.count() == 1


def queue(client, world, plans, threads=(1,), devices=None):
    body = {
        "models": [world.lenet.pk],
        "plans": list(plans),
        "devices": devices or [world.laptop.pk],
        "threads": list(threads),
    }
    return client.post("/api/jobs/", body, format="json")


def test_it_queues_every_combination_and_returns_the_count_and_ids(signed_in, world, user):
    before = Job.objects.count()
    response = queue(
        signed_in,
        world,
        ["C2@conv2 + W3(s=0.5)@fc1", "W3(s=0.5)@fc1"],
        threads=[1, 2],
        devices=[world.laptop.pk, world.jetson.pk],
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 8 and body["skipped"] == 0 and len(body["ids"]) == 8
    jobs = Job.objects.filter(pk__in=body["ids"])
    assert Job.objects.count() == before + 8
    assert {j.status for j in jobs} == {"queued"} and {j.created_by for j in jobs} == {user}
    assert {(j.device_id, j.num_threads) for j in jobs} == {
        (d, n) for d in (world.laptop.pk, world.jetson.pk) for n in (1, 2)
    }
    assert Plan.objects.filter(canonical="C2@conv2 + W3(s=0.5)@fc1").exists()


def test_it_skips_combinations_already_queued(signed_in, world):
    first = queue(signed_in, world, ["W3(s=0.5)@fc1"])
    second = queue(signed_in, world, ["W3(s=0.5)@fc1"])
    assert first.json()["count"] == 1
    assert second.json() == {"count": 0, "skipped": 1, "ids": []}


def test_it_counts_a_plan_written_two_ways_once_as_the_dashboard_preview_does(signed_in, world):
    before = Job.objects.count()
    response = queue(signed_in, world, ["W3(s=0.50)@fc1", "W3( s=0.5 ) @ fc1"])  # one canonical
    assert response.status_code == 201, response.content
    assert response.json()["count"] == 1 and response.json()["skipped"] == 0
    assert Job.objects.count() == before + 1


def test_it_refuses_a_malformed_plan_naming_it_and_queues_nothing(signed_in, world):
    before = (Job.objects.count(), Plan.objects.count(), Artifact.objects.count())
    response = queue(signed_in, world, ["W3(s=0.5)@fc1", "W3(s=2)", "Zz9@fc1"])
    assert response.status_code == 400
    problems = response.json()["plans"]
    assert len(problems) == 2
    assert "'W3(s=2)'" in problems[0] and "s=2" in problems[0]
    assert "'Zz9@fc1'" in problems[1] and "Unknown technique" in problems[1]
    assert (Job.objects.count(), Plan.objects.count(), Artifact.objects.count()) == before


def test_it_refuses_bad_ids_threads_and_protocol(signed_in, world):
    body = {"models": [999999], "plans": ["baseline"], "devices": [world.laptop.pk]}
    assert "models" in signed_in.post("/api/jobs/", body, format="json").json()
    assert "threads" in queue(signed_in, world, ["baseline"], threads=[0]).json()
    bad_protocol = {**body, "models": [world.lenet.pk], "protocol": {"min_runs": 1}}
    response = signed_in.post("/api/jobs/", bad_protocol, format="json")
    assert response.status_code == 400 and "min_runs" in response.json()["protocol"][0]
    unknown = {**bad_protocol, "protocol": {"runs_please": 5}}
    assert (
        "runs_please" in signed_in.post("/api/jobs/", unknown, format="json").json()["protocol"][0]
    )
    assert Job.objects.count() == 5


def test_it_cancels_a_queued_job_and_refuses_to_cancel_a_finished_one(signed_in, world):
    queued, done = world.jobs["queued"], world.jobs["base"]
    response = signed_in.post(f"/api/jobs/{queued.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    queued.refresh_from_db()
    assert queued.status == "cancelled" and queued.finished_at is not None
    refused = signed_in.post(f"/api/jobs/{done.pk}/cancel/")
    assert refused.status_code == 409 and "succeeded" in refused.json()["detail"]
    assert Job.objects.get(pk=done.pk).status == "succeeded"


def test_it_retries_a_failed_job_and_refuses_to_retry_a_queued_one(signed_in, world):
    job = world.jobs["queued"]
    Job.objects.filter(pk=job.pk).update(status="failed", attempts=3, error="device offline")
    response = signed_in.post(f"/api/jobs/{job.pk}/retry/")
    assert response.status_code == 200
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("queued", 0, "")
    refused = signed_in.post(f"/api/jobs/{job.pk}/retry/")
    assert refused.status_code == 409 and "queued" in refused.json()["detail"]
    assert signed_in.post("/api/jobs/999999/retry/").status_code == 404


def test_it_lets_only_staff_delete(signed_in, staff, world):
    result = world.results["alex"]
    assert signed_in.delete(f"/api/results/{result.pk}/").status_code == 403
    assert Result.objects.filter(pk=result.pk).exists()
    assert staff.delete(f"/api/results/{result.pk}/").status_code == 204
    assert not Result.objects.filter(pk=result.pk).exists()
    assert staff.delete(f"/api/devices/{world.laptop.pk}/").status_code == 204
    assert not Job.objects.filter(device_id=world.laptop.pk).exists()


def test_it_answers_a_protected_delete_with_a_409(staff, world):
    response = staff.delete(f"/api/datasets/{world.digits.pk}/")
    assert response.status_code == 409 and "lenet" in response.json()["detail"]
    assert Dataset.objects.filter(pk=world.digits.pk).exists()


def test_it_records_nothing_for_a_non_staff_user_made_staff_later(world):
    # The staff check reads the user at each request, not when the token was made.
    from tests.webapp.api.conftest import client_for

    user = User.objects.create_user("later")
    client = client_for(user)
    assert client.delete(f"/api/jobs/{world.jobs['queued'].pk}/").status_code == 403
    User.objects.filter(pk=user.pk).update(is_staff=True)
    assert client.delete(f"/api/jobs/{world.jobs['queued'].pk}/").status_code == 204
