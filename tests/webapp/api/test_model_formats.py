"""Uploading a ready-made .tflite or a .pt2 through the API: stored only when it loads and fits."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements import actions
from measurements.models import DNNModel
from tests.webapp.bad_model_files import CASES, DATASETS, bad_files, media_files

pytestmark = pytest.mark.django_db


def _tflite(shape, classes: int) -> bytes:
    import keras

    from compression.export import to_tflite

    inputs = keras.Input(shape)
    outputs = keras.layers.Dense(classes)(keras.layers.Flatten()(inputs))
    return to_tflite(keras.Model(inputs, outputs), "float32")


def _post(client, name: str, content: bytes, dataset_id: int):
    data = {"file": SimpleUploadedFile(name, content), "dataset": dataset_id}
    return client.post("/api/models/", {**data, "name": "net", "architecture": "dense"})


def test_it_stores_an_uploaded_tflite_as_a_tflite_model(signed_in, world):
    shape = tuple(world.digits.input_shape)
    content = _tflite(shape, world.digits.num_classes)
    response = _post(signed_in, "net.tflite", content, world.digits.pk)
    assert response.status_code == 201, response.content
    row = DNNModel.objects.get(name="net")
    assert (row.format, row.input_layout) == ("tflite", "NHWC")
    assert row.file.read() == content


def test_it_answers_400_for_a_tflite_that_does_not_fit_and_writes_nothing(signed_in, world):
    wrong = _tflite((5, 5, 1), world.digits.num_classes)
    response = _post(signed_in, "net.tflite", wrong, world.digits.pk)
    assert response.status_code == 400 and "do not fit either" in str(response.json())
    corrupt = _post(signed_in, "net.tflite", b"not a flatbuffer", world.digits.pk)
    assert corrupt.status_code == 400 and "file" in str(corrupt.json())
    pickled = _post(signed_in, "net.pth", b"\x80\x04pickle", world.digits.pk)
    assert pickled.status_code == 400 and ".keras, .tflite, .pt2" in str(pickled.json())
    assert not DNNModel.objects.filter(name="net").exists()


@pytest.fixture
def datasets(db) -> dict:
    return {
        name: actions.register_dataset(name, "bundled", options)
        for name, options in DATASETS.items()
    }


@pytest.mark.parametrize("case", CASES)
def test_it_answers_400_naming_the_problem_of_a_bad_file_and_writes_nothing(
    signed_in, datasets, case
):
    bad = bad_files()[case]
    data = {
        "file": SimpleUploadedFile(bad.file_name, bad.content),
        "dataset": datasets[bad.dataset].pk,
        "name": "net",
        "architecture": "cnn",
    }
    response = signed_in.post("/api/models/", data)
    assert response.status_code == 400, response.content
    assert bad.message in response.json()["file"][0]
    assert not DNNModel.objects.exists() and media_files() == []
