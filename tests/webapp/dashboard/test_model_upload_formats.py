"""The dashboard's upload form takes .tflite and .pt2 files and refuses bad ones as form errors."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from measurements import actions
from measurements.models import DNNModel
from tests.webapp.bad_model_files import CASES, DATASETS, bad_files, media_files

pytestmark = pytest.mark.django_db

UPLOAD = "/models/upload/"


@pytest.fixture
def uploader(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("erin"))
    return client


@pytest.fixture
def datasets(db) -> dict:
    return {
        name: actions.register_dataset(name, "bundled", options)
        for name, options in DATASETS.items()
    }


def form(file_name: str, content: bytes, dataset) -> dict:
    upload = SimpleUploadedFile(file_name, content)
    return {"file": upload, "name": "net", "architecture": "cnn", "dataset": str(dataset.pk)}


@pytest.mark.parametrize("case", CASES)
def test_it_shows_the_problem_of_a_bad_file_under_the_file_field_and_writes_nothing(
    uploader, datasets, case
):
    bad = bad_files()[case]
    response = uploader.post(UPLOAD, form(bad.file_name, bad.content, datasets[bad.dataset]))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["file"] and bad.message in errors["file"][0]
    assert escape(bad.message) in response.content.decode()
    assert not DNNModel.objects.exists() and media_files() == []


def test_it_names_the_three_formats_when_the_suffix_is_none_of_them(uploader, datasets):
    response = uploader.post(UPLOAD, form("net.pth", b"\x80\x04pickle", datasets["digits"]))
    assert response.status_code == 400
    message = response.context["form"].errors["file"][0]
    assert ".keras" in message and ".tflite" in message and "torch.export.save (.pt2)" in message
    assert not DNNModel.objects.exists() and media_files() == []


def test_it_offers_the_three_formats_on_the_form(uploader):
    page = uploader.get(UPLOAD).content.decode()
    assert "Model file (.keras, .tflite or .pt2)" in page
    assert "torch.export.save" in page and "never a pickled module" in page
