"""A .tflite file registers only when LiteRT loads it and it fits the dataset."""

import keras
import pytest
from django.db import IntegrityError, transaction

from compression.export import to_tflite
from compression.formats.tflite import describe_tflite, load_tflite
from measurements.actions.model_intake import register_tflite_file
from measurements.models import Dataset, DNNModel

pytestmark = pytest.mark.django_db


def _tflite(tmp_path, shape=(8, 8, 1), classes=3):
    inputs = keras.Input(shape)
    outputs = keras.layers.Dense(classes)(keras.layers.Flatten()(inputs))
    path = tmp_path / "net.tflite"
    path.write_bytes(to_tflite(keras.Model(inputs, outputs), "float32"))
    return path


@pytest.fixture
def dataset():
    return Dataset.objects.create(name="d", input_shape=[8, 8, 1], num_classes=3)


def test_it_registers_a_tflite_with_its_layout_and_params(tmp_path, dataset, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = _tflite(tmp_path)
    row = register_tflite_file("net", "dense", dataset, path)
    row.refresh_from_db()
    params = describe_tflite(load_tflite(path))["params"]
    assert (row.format, row.input_layout, row.param_count) == ("tflite", "NHWC", params)
    assert params >= 8 * 8 * 3
    assert row.file.name.endswith("net.tflite") and len(row.sha256) == 64


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _tflite(p, shape=(6, 6, 1)), "do not fit either"),
        (lambda p: _tflite(p, classes=5), "gives 5 outputs per sample"),
        (lambda p: (p / "bad.tflite").write_bytes(b"not a flatbuffer") and p / "bad.tflite", ""),
    ],
)
def test_it_refuses_a_bad_tflite_and_writes_nothing(tmp_path, dataset, settings, make, message):
    settings.MEDIA_ROOT = tmp_path / "media"
    with pytest.raises(ValueError, match=message):
        register_tflite_file("bad", "dense", dataset, make(tmp_path))
    assert not DNNModel.objects.exists()
    assert not (tmp_path / "media").exists()


def test_it_removes_the_stored_file_when_the_row_cannot_be_saved(tmp_path, dataset, settings):
    # Two uploads racing for one name: the second's row fails, and so its file must go.
    settings.MEDIA_ROOT = tmp_path / "media"
    register_tflite_file("net", "dense", dataset, _tflite(tmp_path))
    before = sorted((tmp_path / "media").rglob("*.tflite"))
    with pytest.raises(IntegrityError), transaction.atomic():
        register_tflite_file("net", "dense", dataset, _tflite(tmp_path))
    assert sorted((tmp_path / "media").rglob("*.tflite")) == before and len(before) == 1
    assert DNNModel.objects.count() == 1
