"""The example files under examples/ import as the README says they do."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from measurements.models import Artifact, Device, DNNModel, Result
from tests.factories import make_dataset

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "import-paper-table.csv"


@pytest.mark.django_db
def test_it_imports_the_readme_example_creating_its_reference_rows():
    make_dataset(name="cifar10", num_classes=10)
    client = APIClient()
    client.force_authenticate(User.objects.create_user("ada"))
    upload = SimpleUploadedFile(EXAMPLE.name, EXAMPLE.read_bytes())
    body = {"file": upload, "create_missing": "true"}
    response = client.post("/api/results/import", body, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 4
    assert response.json()["created_models"] == ["alexnet-paper"]
    assert DNNModel.objects.get(name="alexnet-paper").architecture == "alexnet"
    assert Device.objects.get(name="pixel-9").kind == "external"
    int8 = Artifact.objects.get(plan__canonical="W3(s=0.8)@fc1 + Q-int8")
    assert (int8.export_mode, int8.file_size, int8.status) == ("int8", 58265600, "imported")
    assert Result.objects.filter(source_label="Han et al. 2016, table 4").count() == 4
