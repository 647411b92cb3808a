"""A .tflite or .pt2 file registers only when it loads and fits the dataset."""

import hashlib

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


def test_it_registers_a_program_with_its_conversion_and_compresses_from_it(tmp_path, settings):
    from compression.data import load_digits
    from compression.plan import Plan
    from measurements import actions
    from measurements.actions.model_intake import register_pt2_file
    from measurements.models import Artifact
    from tests.compression.torch_programs import in_child

    settings.MEDIA_ROOT = tmp_path / "media"
    digits = load_digits(seed=0)
    path = tmp_path / "net.pt2"
    path.write_bytes(in_child("residual_cnn_pt2", digits.x_train, digits.y_train, 2, True))
    dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
    row = register_pt2_file("net", "cnn", dataset, path)
    row.refresh_from_db()
    assert (row.format, row.input_layout, row.is_baseline) == ("pt2", "NCHW", True)
    assert row.file.name.endswith("net.pt2") and row.converted_file.name.endswith("net.tflite")
    with row.converted_file.open("rb") as handle:
        converted = handle.read()
    assert row.converted_sha256 == hashlib.sha256(converted).hexdigest()
    assert row.param_count == describe_tflite(load_tflite(converted))["params"] > 0
    assert 0 <= row.conversion_max_abs_diff < 1e-4 and row.conversion_seconds > 0

    plan = actions.get_or_create_plan(Plan.parse("AQ-w8"))
    artifact = actions.ensure_artifact_ready(
        Artifact.objects.create(model=row, plan=plan), in_child=False
    )
    assert artifact.status == "ready" and not artifact.keras_file
    figures = artifact.static_metrics["conversion"]
    assert figures["max_abs_diff"] == row.conversion_max_abs_diff
    assert "measured at upload" in figures["source"]
    assert artifact.file_size < len(converted) * 0.6
