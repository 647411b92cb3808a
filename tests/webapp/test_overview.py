import pytest

from measurements.models import Technique
from tests.factories import make_device, make_job

pytestmark = pytest.mark.django_db


def test_it_lists_models_devices_techniques_and_jobs(client):
    Technique.objects.create(
        code="W3", name="Magnitude pruning", category="pruning", applies_to="fc", description="d"
    )
    job = make_job(device=make_device(name="jetson-tx2"))
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Magnitude pruning" in body and "jetson-tx2" in body
    assert job.artifact.model.name in body and job.artifact.plan.canonical in body
    assert "None" not in body


def test_it_says_what_to_do_next_when_empty(client):
    body = client.get("/").content.decode()
    assert "make demo" in body and "loadcatalogue" in body


def test_it_serves_the_admin_login(client):
    assert client.get("/admin/login/").status_code == 200
