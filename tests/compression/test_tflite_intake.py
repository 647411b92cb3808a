"""Ready-made .tflite files in: validated by LiteRT, input checked against the dataset."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from compression.analysis import analyze_tflite
from compression.data import Dataset
from compression.errors import ModelFileError, ModelInputError
from compression.export import to_tflite
from compression.formats import format_of
from compression.formats.tflite import (
    TfliteModel,
    arrange,
    check_input,
    describe_tflite,
    guess_layout,
    load_tflite,
)


@pytest.fixture(scope="module")
def lenet_tflite(lenet: keras.Model) -> bytes:
    return to_tflite(lenet, "float32")


def test_it_loads_a_tflite_and_reads_its_signature(lenet_tflite: bytes, tmp_path) -> None:
    path = tmp_path / "lenet.tflite"
    path.write_bytes(lenet_tflite)
    model = load_tflite(path)
    assert model.input_shape == (8, 8, 1) and model.input_dtype == "float32"
    assert model.layout == "NHWC" and model.output_shape == (10,)
    assert model.content == lenet_tflite and format_of(model) == "tflite"


def test_it_reads_static_figures_from_the_flatbuffer(lenet_tflite: bytes) -> None:
    figures = describe_tflite(load_tflite(lenet_tflite))
    assert figures["file_size_bytes"] == len(lenet_tflite)
    assert 0 < figures["gzip_size_bytes"] < len(lenet_tflite)
    assert figures["params"] == analyze_tflite(lenet_tflite)["params"] > 1000
    assert figures["by_op_type"]["CONV_2D"] == 2 and figures["by_op_type"]["FULLY_CONNECTED"] >= 2
    assert figures["input_shape"] == [8, 8, 1] and figures["layout"] == "NHWC"


def test_it_refuses_a_corrupt_file(lenet_tflite: bytes) -> None:
    with pytest.raises(ModelFileError, match="identifier 'TFL3' is missing"):
        load_tflite(b"this is not a model at all")
    damaged = lenet_tflite[: len(lenet_tflite) // 3]
    with pytest.raises(ModelFileError, match="(?i)corrupt"):
        load_tflite(damaged)


def test_it_refuses_a_missing_file(tmp_path) -> None:
    with pytest.raises(ModelFileError, match="Cannot read the .tflite file"):
        load_tflite(tmp_path / "absent.tflite")


def test_it_checks_the_input_against_the_dataset(lenet_tflite: bytes, digits: Dataset) -> None:
    model = load_tflite(lenet_tflite)
    assert check_input(model, digits.input_shape) == "NHWC"
    with pytest.raises(ModelInputError, match=r"takes samples of shape \(8, 8, 1\).*\(32, 32, 3\)"):
        check_input(model, (32, 32, 3))


def test_it_arranges_nhwc_samples_for_a_channels_first_model() -> None:
    nchw = TfliteModel(b"", (3, 32, 32), "float32", guess_layout((3, 32, 32)), (10,))
    assert nchw.layout == "NCHW"
    assert check_input(nchw, (32, 32, 3)) == "NCHW"
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype="float32")
    arranged = arrange(x, "NCHW")
    assert arranged.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(arranged[1, 2], x[1, :, :, 2])
    assert arrange(x, "NHWC") is x


def test_it_guesses_the_layout_from_the_shape() -> None:
    assert guess_layout((32, 32, 3)) == "NHWC"
    assert guess_layout((1, 28, 28)) == "NCHW"
    assert guess_layout((3, 3, 3)) == "NHWC"  # ambiguous: TFLite's own layout
    assert guess_layout((100,)) == "NHWC"
