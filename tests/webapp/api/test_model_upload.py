"""Uploading a trained .keras model: loaded in Keras safe mode before anything is stored."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements.models import DNNModel

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """A tiny trained-shape model and one with a Lambda layer, saved as .keras files."""
    import keras

    folder = tmp_path_factory.mktemp("uploads")
    inputs = keras.Input((8, 8, 1))
    dense = keras.layers.Dense(10, name="fc")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, dense).save(folder / "tiny.keras")
    doubled = keras.layers.Lambda(lambda x: x * 2.0)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, keras.layers.Dense(10)(doubled)).save(folder / "lambda.keras")
    five_classes = keras.layers.Dense(5)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, five_classes).save(folder / "five.keras")
    return folder


def form(name: str, content: bytes, dataset_id: int, model_name: str = "tiny") -> dict:
    return {
        "file": SimpleUploadedFile(name, content),
        "dataset": dataset_id,
        "name": model_name,
        "architecture": "mlp",
    }


def test_it_stores_an_uploaded_model_with_its_parameter_count(signed_in, user, world, keras_files):
    content = (keras_files / "tiny.keras").read_bytes()
    response = signed_in.post("/api/models/", form("tiny.keras", content, world.digits.pk))
    assert response.status_code == 201, response.content
    row = DNNModel.objects.get(name="tiny")
    assert row.param_count == 8 * 8 * 10 + 10  # Dense(10) on 64 inputs, by hand
    assert row.dataset == world.digits and row.created_by == user and len(row.sha256) == 64
    assert row.file.read() == content
    assert response.json()["param_count"] == 650 and response.json()["created_by"] == "ada"


def test_it_refuses_a_corrupt_file_with_the_loaders_message(signed_in, world):
    response = signed_in.post("/api/models/", form("junk.keras", b"not a zip", world.digits.pk))
    assert response.status_code == 400
    assert "junk" not in DNNModel.objects.values_list("name", flat=True)
    message = response.json()["file"][0]
    assert "junk.keras" in message and ("zip" in message or "damaged" in message)


def test_it_refuses_a_lambda_layer(signed_in, world, keras_files):
    content = (keras_files / "lambda.keras").read_bytes()
    response = signed_in.post("/api/models/", form("lambda.keras", content, world.digits.pk))
    assert response.status_code == 400 and "Lambda" in response.json()["file"][0]
    assert not DNNModel.objects.filter(name="tiny").exists()


def test_it_refuses_a_model_that_does_not_fit_its_dataset(signed_in, world, keras_files):
    content = (keras_files / "five.keras").read_bytes()
    response = signed_in.post("/api/models/", form("five.keras", content, world.digits.pk))
    assert response.status_code == 400
    assert "5" in response.json()["file"][0] and "10 classes" in response.json()["file"][0]
    assert not DNNModel.objects.filter(name="tiny").exists()


def test_it_refuses_a_file_over_the_upload_limit(signed_in, world, settings):
    settings.MAX_MODEL_UPLOAD_BYTES = 100
    response = signed_in.post("/api/models/", form("big.keras", b"x" * 101, world.digits.pk))
    assert response.status_code == 400 and "MAX_MODEL_UPLOAD_BYTES" in response.json()["file"][0]
    assert DNNModel.objects.count() == 3


def test_it_refuses_other_extensions_taken_names_and_unknown_datasets(signed_in, world):
    wrong = signed_in.post("/api/models/", form("model.h5", b"x", world.digits.pk))
    assert wrong.status_code == 400 and ".keras" in wrong.json()["file"][0]
    taken = signed_in.post("/api/models/", form("m.keras", b"x", world.digits.pk, "lenet"))
    assert taken.status_code == 400 and "exists" in taken.json()["name"][0]
    unknown = signed_in.post("/api/models/", form("m.keras", b"x", 999999))
    assert unknown.status_code == 400 and "dataset" in unknown.json()
    assert DNNModel.objects.count() == 3


def test_it_refuses_an_anonymous_upload(anonymous, world, keras_files):
    content = (keras_files / "tiny.keras").read_bytes()
    response = anonymous.post("/api/models/", form("tiny.keras", content, world.digits.pk))
    assert response.status_code == 401
    assert not DNNModel.objects.filter(name="tiny").exists()
