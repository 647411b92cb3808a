"""benchmarks/selector.py brings a keras.applications network in as a user would."""

from __future__ import annotations

import os

import numpy as np
import pytest

from benchmarks import selector
from compression.data.registry import load_dataset
from compression.modelio import load_model


def test_it_tells_a_keras_application_from_a_zoo_model():
    assert selector.is_application("MobileNetV2:0.35")
    assert selector.is_application("ResNet50")
    assert not selector.is_application("lenet")
    assert selector.slug("MobileNetV2:0.35") == "MobileNetV2-0.35"


def test_it_writes_the_rgb_digits_as_a_valid_npz_dataset_split_60_20_20(tmp_path):
    options = selector.write_rgb_digits(tmp_path / "digits32rgb.npz", side=32)
    assert options["path"] == "digits32rgb.npz"
    data = load_dataset("npz", **{**options, "path": str(tmp_path / options["path"])})
    assert data.input_shape == (32, 32, 3) and data.num_classes == 10
    assert data.split_sizes == {"train": 1078, "val": 359, "test": 360}  # load_digits' split
    assert np.array_equal(data.x_test[..., 0], data.x_test[..., 2])  # gray, in three channels
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0


@pytest.mark.django_db
def test_it_registers_an_applications_baseline_on_the_npz_dataset_once(settings, tmp_path):
    settings.DATASET_ROOT = tmp_path / "datasets"
    # Zero epochs: the untrained network, registered as a trained one would be.
    model = selector.baseline("MobileNetV2:0.35", epochs=0, side=32)
    assert model.architecture == "MobileNetV2" and model.is_baseline
    assert model.dataset.source == "npz" and model.dataset.input_shape == [32, 32, 3]
    assert model.dataset.source_options["path"] == str(tmp_path / "datasets" / "digits32rgb.npz")
    keras_model = load_model(model.file.path)
    assert keras_model.get_layer("Conv1").filters == 16  # alpha 0.35 reached the builder
    assert selector.baseline("MobileNetV2:0.35", epochs=0, side=32) == model  # not retrained


def test_it_caps_the_runners_fine_tuning_only_when_asked(monkeypatch):
    # Only the environment is under test: no second Django set-up, no migration, and
    # monkeypatch puts back every variable setup_django sets (DATABASE_URL too).
    monkeypatch.setattr("django.setup", lambda: None)
    monkeypatch.setattr("django.core.management.call_command", lambda *a, **k: None)
    monkeypatch.setenv("DATABASE_URL", os.environ.get("DATABASE_URL", "sqlite:///unused"))
    monkeypatch.setenv("COMPRESSION_FINE_TUNE_EPOCHS", "30")
    selector.setup_django()
    assert os.environ["COMPRESSION_FINE_TUNE_EPOCHS"] == "30"
    selector.setup_django(fine_tune_epochs=1)
    assert os.environ["COMPRESSION_FINE_TUNE_EPOCHS"] == "1"
