"""Who may do what: viewing needs login, creating needs login, deleting needs staff; CSRF."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from measurements.models import Device, DNNModel, Job
from tests.factories import make_device, make_job, make_model

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/models/",
    "/models/{model}/",
    "/models/upload/",
    "/devices/",
    "/devices/{device}/",
    "/devices/new/",
    "/techniques/",
    "/jobs/",
    "/jobs/{job}/",
    "/jobs/new/",
]


@pytest.fixture
def rows():
    job = make_job()
    return {"job": job.pk, "model": job.artifact.model.pk, "device": job.device.pk}


@pytest.mark.parametrize("page", PAGES)
def test_it_sends_anonymous_visitors_to_log_in(client, rows, page):
    url = page.format(**rows)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_it_serves_the_login_page_to_anyone(client):
    response = client.get("/accounts/login/?next=/jobs/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in body and 'value="/jobs/"' in body


def test_it_logs_a_user_in_and_back_to_the_page_asked_for(client, django_user_model):
    django_user_model.objects.create_user("erin", password="s3cret-pass")
    response = client.post(
        "/accounts/login/", {"username": "erin", "password": "s3cret-pass", "next": "/jobs/"}
    )
    assert response["Location"] == "/jobs/"
    assert client.get("/jobs/").status_code == 200
    wrong = client.post("/accounts/login/", {"username": "erin", "password": "nope"})
    assert "did not match" in wrong.content.decode()


@pytest.mark.parametrize("action", ["cancel", "retry", "delete"])
def test_it_refuses_job_actions_to_anonymous_visitors(client, action):
    job = make_job(status="failed" if action == "retry" else "queued")
    response = client.post(f"/jobs/{job.pk}/{action}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Job.objects.get(pk=job.pk).status == job.status


def test_it_refuses_creating_and_uploading_to_anonymous_visitors(client):
    model, device = make_model(), make_device()
    data = {"models": [model.pk], "devices": [device.pk], "threads": "1", "plans": "baseline"}
    upload = SimpleUploadedFile("x.keras", b"zip?")
    posts = [
        ("/jobs/new/", {**data, "action": "queue"}),
        ("/devices/new/", {"name": "d", "kind": "local", "power_sensor": "none"}),
        ("/models/upload/", {"file": upload, "name": "x", "architecture": "x", "dataset": "1"}),
        (f"/devices/{device.pk}/test/", {}),
    ]
    for url, payload in posts:
        response = client.post(url, payload)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert not Job.objects.exists() and Device.objects.count() == 1
    assert DNNModel.objects.count() == 1
    assert Device.objects.get().last_seen is None


def test_it_lets_any_logged_in_user_retry_but_only_staff_delete(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("frank"))
    job = make_job(status="failed")
    assert client.post(f"/jobs/{job.pk}/delete/").status_code == 403
    assert client.post(f"/jobs/{job.pk}/retry/").status_code == 302
    assert Job.objects.get(pk=job.pk).status == "queued"  # retried, not deleted


def test_it_only_acts_on_post(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("gina", is_staff=True))
    job = make_job()
    for action in ("cancel", "retry", "delete"):
        assert client.get(f"/jobs/{job.pk}/{action}/").status_code == 405
    assert Job.objects.get(pk=job.pk).status == "queued"


def csrf_client(django_user_model) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("hank", is_staff=True))
    return client


def token_from(client: Client, url: str) -> str:
    body = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)


def test_it_enforces_csrf_on_the_device_form(django_user_model):
    client = csrf_client(django_user_model)
    data = {"name": "csrf", "kind": "local", "power_sensor": "none", "power_source": "mains"}
    assert client.post("/devices/new/", data).status_code == 403
    assert not Device.objects.exists()
    token = token_from(client, "/devices/new/")
    assert client.post("/devices/new/", {**data, "csrfmiddlewaretoken": token}).status_code == 302
    assert Device.objects.filter(name="csrf").exists()


def test_it_enforces_csrf_on_the_upload_form_despite_its_streaming_size_check(
    django_user_model, settings
):
    # The upload view is csrf_exempt so its size handler can run first; it must check itself.
    client = csrf_client(django_user_model)
    data = {"name": "m", "architecture": "x", "dataset": "bundled"}
    response = client.post("/models/upload/", {**data, "file": SimpleUploadedFile("m.keras", b"x")})
    assert response.status_code == 403
    token = token_from(client, "/models/upload/")
    with_token = {**data, "csrfmiddlewaretoken": token}
    response = client.post(
        "/models/upload/", {**with_token, "file": SimpleUploadedFile("m.keras", b"x")}
    )
    assert response.status_code == 400  # past CSRF, refused as not a Keras archive
    assert "not a zip archive" in response.content.decode()


def test_it_enforces_csrf_on_job_actions(django_user_model):
    client = csrf_client(django_user_model)
    job = make_job()
    for action in ("cancel", "delete"):
        assert client.post(f"/jobs/{job.pk}/{action}/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == "queued"
