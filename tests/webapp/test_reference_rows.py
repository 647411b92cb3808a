"""Reference models (no file) and external devices (no driver): registered, never run."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from measurements import actions
from measurements.models import Device, DNNModel, Job
from tests.factories import make_dataset, make_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.create_user("ada"))
    return client


@pytest.fixture
def browser(db) -> Client:
    client = Client()
    # Devices are staff-only: grace registers the external device as staff.
    client.force_login(User.objects.create_user("grace", is_staff=True))
    return client


def test_it_registers_a_reference_model_through_the_api(api):
    dataset = make_dataset(name="imagenet")
    body = {"name": "resnet50-paper", "architecture": "resnet", "dataset": dataset.pk}
    response = api.post("/api/models/", {**body, "param_count": 25_557_032}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["is_reference"] is True and response.json()["file"] is None
    model = DNNModel.objects.get(name="resnet50-paper")
    assert model.is_reference and model.param_count == 25_557_032 and not model.is_baseline
    again = api.post("/api/models/", body, format="multipart")
    assert again.status_code == 400 and DNNModel.objects.count() == 1


def test_it_registers_a_reference_model_and_an_external_device_from_the_dashboard(browser):
    dataset = make_dataset(name="imagenet")
    form = {"name": "vgg16-paper", "architecture": "vgg", "dataset": str(dataset.pk)}
    response = browser.post("/models/upload/", {**form, "param_count": "138357544"})
    model = DNNModel.objects.get(name="vgg16-paper")
    assert response.status_code == 302 and model.is_reference
    page = browser.get(f"/models/{model.pk}/").content.decode()
    assert "reference: no file" in page and "Queue jobs for this model" not in page
    device = {
        "name": "pixel-9",
        "kind": "external",
        "processor": "Tensor G4",
        "power_source": "mains",
    }
    response = browser.post("/devices/new/", {**device, "power_sensor": "none", "settings": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Device.objects.get(name="pixel-9").is_external


def test_it_never_queues_jobs_for_reference_models_or_external_devices(api):
    dataset = make_dataset(name="imagenet")
    reference = actions.register_reference_model("alexnet-paper", "alexnet", dataset)
    real = make_model(name="lenet", dataset=dataset)
    external = Device.objects.create(name="tx2-lab-b", kind=Device.Kind.EXTERNAL)
    local = Device.objects.create(name="laptop", kind=Device.Kind.LOCAL)
    asked = {"models": [real.pk], "plans": ["baseline"], "devices": [external.pk]}
    response = api.post("/api/jobs/", asked, format="json")
    assert response.status_code == 400 and "External devices" in str(response.json()["devices"])
    asked = {"models": [reference.pk], "plans": ["baseline"], "devices": [local.pk]}
    response = api.post("/api/jobs/", asked, format="json")
    assert response.status_code == 400 and "Reference models" in str(response.json()["models"])
    with pytest.raises(ValueError, match="External devices"):
        actions.queue_jobs([real], ["baseline"], [external], [1])
    assert Job.objects.count() == 0


def test_it_offers_only_devices_whose_kind_runs_jobs_on_the_jobs_form(browser):
    external = Device.objects.create(name="tx2-lab-b", kind=Device.Kind.EXTERNAL)
    local = Device.objects.create(name="laptop", kind=Device.Kind.LOCAL)
    page = browser.get("/jobs/new/")
    assert page.status_code == 200
    offered = list(page.context["form"].fields["devices"].queryset)
    assert offered == [local] and not external.runs_jobs and local.runs_jobs
    assert f'value="{local.pk}"' in page.content.decode()
    assert "tx2-lab-b" not in page.content.decode()
