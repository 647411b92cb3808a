"""Least privilege through the API: who reads, who configures the server, what a body may hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client

from measurements.models import Dataset, Device, Job
from tests.factories import make_device
from tests.webapp.api.conftest import client_for

pytestmark = pytest.mark.django_db

RESOURCES = ["datasets", "models", "techniques", "plans", "artifacts", "devices", "jobs", "results"]


def test_it_refuses_every_read_to_anonymous_visitors_by_default(anonymous, world):
    for url in [*(f"/api/{r}/" for r in RESOURCES), "/api/pareto", "/api/results/export"]:
        response = anonymous.get(url)
        assert response.status_code == 401, url
        assert response.json()["detail"] == "Authentication credentials were not provided."
    assert anonymous.get(f"/api/jobs/{world.jobs['queued'].pk}/").status_code == 401
    assert anonymous.get("/api/schema/").status_code == 401


def test_a_public_lab_lets_anonymous_visitors_read_but_not_logs_or_device_settings(
    anonymous, reader, world, settings
):
    settings.PUBLIC_READ = True
    job = world.jobs["queued"]
    Job.objects.filter(pk=job.pk).update(log="runner lab-7:4242 claimed", lease_owner="lab-7:4242")
    Device.objects.filter(pk=world.jetson.pk).update(settings={"key_path": "jetson_ed25519"})
    for resource in RESOURCES:
        assert anonymous.get(f"/api/{resource}/").status_code == 200, resource
    shown = anonymous.get(f"/api/jobs/{job.pk}/").json()
    assert shown["status"] == "queued" and shown["log"] is None and shown["lease_owner"] is None
    assert anonymous.get(f"/api/devices/{world.jetson.pk}/").json()["settings"] is None
    listed = anonymous.get("/api/devices/?kind=ssh").json()["results"]
    assert [d["settings"] for d in listed] == [None]
    assert "lab-7:4242" in reader.get(f"/api/jobs/{job.pk}/").json()["log"]
    assert reader.get(f"/api/devices/{world.jetson.pk}/").json()["settings"] == {
        "key_path": "jetson_ed25519"
    }
    assert anonymous.post("/api/jobs/", {}, format="json").status_code == 401
    recommend = anonymous.get("/api/recommend", {"model": "lenet", "device": "laptop"})
    assert recommend.status_code == 401  # it runs the selector: never anonymous


@pytest.fixture
def marker_adb(tmp_path: Path) -> tuple[Path, Path]:
    """An executable that leaves a marker file if anything ever runs it."""
    marker = tmp_path / "ran"
    script = tmp_path / "touch-marker"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    return script, marker


def test_a_non_staff_user_cannot_make_the_server_run_a_binary(signed_in, user, marker_adb):
    script, marker = marker_adb
    phone = make_device(name="pixel", kind="adb", address="R58M")
    body = {"name": "evil", "kind": "adb", "address": "R58M", "settings": {"adb": str(script)}}
    created = signed_in.post("/api/devices/", body, format="json")
    assert created.status_code == 403 and "staff" in created.json()["detail"]
    changed = signed_in.patch(
        f"/api/devices/{phone.pk}/", {"settings": body["settings"]}, format="json"
    )
    assert changed.status_code == 403
    replaced = signed_in.put(f"/api/devices/{phone.pk}/", body, format="json")
    assert replaced.status_code == 403
    page = Client()
    page.force_login(user)
    assert page.post(f"/devices/{phone.pk}/test/").status_code == 403
    assert (
        page.post("/devices/new/", {**body, "settings": json.dumps(body["settings"])}).status_code
        == 403
    )
    assert not marker.exists()
    assert list(Device.objects.values_list("name", "settings")) == [("pixel", {})]


def test_staff_cannot_name_an_executable_or_an_option_either(staff, marker_adb, user):
    script, marker = marker_adb
    attempts = [
        ({"kind": "adb", "address": "R58M", "settings": {"adb": str(script)}}, "settings"),
        ({"kind": "adb", "address": "R58M", "settings": {"adb": "/usr/bin/touch"}}, "settings"),
        ({"kind": "ssh", "address": "-oProxyCommand=touch /tmp/x"}, "address"),
        ({"kind": "ssh", "address": "pi@host; rm -rf /"}, "address"),
        (
            {"kind": "ssh", "address": "pi@host", "settings": {"address": "-oProxyCommand=x"}},
            "settings",
        ),
        ({"kind": "local", "settings": {"env": {"LD_PRELOAD": "/tmp/evil.so"}}}, "settings"),
    ]
    for fields, where in attempts:
        response = staff.post("/api/devices/", {"name": "evil", **fields}, format="json")
        assert response.status_code == 400, fields
        assert where in response.json() and "Received" in response.json()[where][0]
    phone = make_device(name="pixel", kind="adb", address="R58M")
    changed = staff.patch(
        f"/api/devices/{phone.pk}/", {"settings": {"adb": str(script)}}, format="json"
    )
    assert changed.status_code == 400 and "DEVICE_EXECUTABLES" in changed.json()["settings"][0]
    assert not Device.objects.filter(name="evil").exists()
    assert Device.objects.get(pk=phone.pk).settings == {}
    assert not marker.exists()


def test_staff_registers_a_device_naming_allow_listed_executables(staff, settings):
    settings.DEVICE_EXECUTABLES = {"adb": "/opt/platform-tools/adb"}
    body = {"name": "pixel", "kind": "adb", "address": "R58M", "settings": {"adb": "adb"}}
    response = staff.post("/api/devices/", body, format="json")
    assert response.status_code == 201, response.content
    assert Device.objects.get(name="pixel").settings == {"adb": "adb"}
    null = staff.patch(f"/api/devices/{response.json()['id']}/", {"settings": None}, format="json")
    assert null.status_code == 400 and "null" in null.json()["settings"][0]
    assert Device.objects.get(name="pixel").settings == {"adb": "adb"}


def write_npz(path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 255, (20, 4, 4), dtype=np.uint8),
        "y_train": np.arange(20) % 2,
        "x_test": rng.integers(0, 255, (6, 4, 4), dtype=np.uint8),
        "y_test": np.arange(6) % 2,
    }
    np.savez(path, **arrays)


def test_datasets_are_read_only_from_under_the_dataset_root(staff, signed_in, settings, tmp_path):
    root = tmp_path / "datasets"
    root.mkdir()
    settings.DATASET_ROOT = root
    write_npz(root / "tiny.npz")
    secret = tmp_path / "secret.npz"
    write_npz(secret)
    fifo = tmp_path / "blocks-if-opened.npz"
    os.mkfifo(fifo)  # opening it for reading would hang this test: proof nothing opens it

    def register(client, path):
        body = {"name": "d", "source": "npz", "options": {"path": path}}
        return client.post("/api/datasets/", body, format="json")

    assert register(signed_in, "tiny.npz").status_code == 403
    answers = {}
    for path in (
        str(secret),
        str(tmp_path / "missing.npz"),
        str(fifo),
        "../secret.npz",
        "/etc/passwd",
    ):
        response = register(staff, path)
        assert response.status_code == 400, path
        answers[path] = response.json()["options"][0].replace(repr(path), "<path>")
    assert len(set(answers.values())) == 1  # the same words whether or not the file exists
    assert "DATASET_ROOT" in next(iter(answers.values()))
    assert not Dataset.objects.exists()
    made = register(staff, "tiny.npz")
    assert made.status_code == 201, made.content
    row = Dataset.objects.get()
    assert row.source_options["path"] == str(root / "tiny.npz") and row.num_classes == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
        (
            '{"name": "x", "kind": "local", "dram_mb": ' + "9" * 400 + "}",
            "integers must lie within",
        ),
        ('{"name": "x", "kind": "local", "cache_mb": 1e400}', "out of range"),
        ('{"name": "x", "kind": "local", "cache_mb": NaN}', "NaN is not valid JSON"),
        ('{"name": "x", "kind": "local", "settings": null}', "may not be null"),
    ],
)
def test_it_answers_a_hostile_json_body_with_a_400_and_writes_nothing(staff, body, says):
    response = staff.post("/api/devices/", body, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert says in json.dumps(response.json())
    assert not Device.objects.exists()


def test_it_refuses_an_unknown_or_misspelled_recommend_parameter(reader, world):
    response = reader.get(
        "/api/recommend", {"model": "lenet", "device": "laptop", "min_accuracy": 95}
    )
    assert response.status_code == 400
    assert "did you mean 'min_accuracy_pct'" in response.json()["min_accuracy"]
    posted = reader.post(
        "/api/recommend", {"model": "lenet", "device": "laptop", "speed": 1}, format="json"
    )
    assert posted.status_code == 400 and "Unknown parameter 'speed'" in posted.json()["speed"]
    huge = reader.get("/api/recommend", {"model": "9" * 400, "device": "laptop"})
    assert huge.status_code == 400 and "No such model" in huge.json()["model"]


def test_media_files_need_a_login_unless_the_lab_is_public(world, settings, user):
    world.lenet.file.save("lenet.keras", ContentFile(b"keras-bytes"))
    url = world.lenet.file.url
    assert url.startswith("/media/")
    anonymous = Client()
    refused = anonymous.get(url)
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    member = Client()
    member.force_login(user)
    served = member.get(url)
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"keras-bytes"
    assert served["Content-Disposition"] == "attachment"
    assert member.get("/media/../webapp/settings.py").status_code == 404
    assert member.get("/media/%2e%2e/%2e%2e/etc/passwd").status_code == 404
    settings.PUBLIC_READ = True
    assert anonymous.get(url).status_code == 200


def test_a_staff_token_is_not_needed_to_read_but_is_to_delete(world):
    member = client_for(User.objects.create_user("m"))
    assert member.get(f"/api/devices/{world.laptop.pk}/").status_code == 200
    assert member.delete(f"/api/devices/{world.laptop.pk}/").status_code == 403
    assert Device.objects.filter(pk=world.laptop.pk).exists()


def test_django_level_refusals_under_the_api_are_json(staff, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"f{n}": "x" for n in range(10)}
    response = staff.post("/api/devices/", fields)  # multipart: Django refuses the field count
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in response.json()["detail"]
    missing = staff.get("/api/no-such-thing/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    assert not Device.objects.exists()


def test_a_blank_name_is_refused_and_the_schema_says_so(staff):
    response = staff.post("/api/devices/", {"name": "   ", "kind": "local"}, format="json")
    assert response.status_code == 400 and "blank" in response.json()["name"][0]
    schema = staff.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert schema["Device"]["properties"]["name"]["pattern"] == r"\S"
    assert schema["DatasetCreate"]["properties"]["name"]["pattern"] == r"\S"
    assert not Device.objects.exists()
