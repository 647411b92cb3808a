"""Keras -> .tflite export in the four post-training quantization modes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from compression.data import Dataset
from compression.evaluation import evaluate_tflite
from compression.export import QUANTIZATION_MODES, to_tflite

# LeNet's kernel shapes as TFLite stores them: conv (Cout, kh, kw, Cin), dense (m, n).
LENET_KERNELS = {
    "conv1": (6, 5, 5, 1),
    "conv2": (16, 5, 5, 6),
    "fc1": (120, 2 * 2 * 16),
    "fc2": (84, 120),
    "fc3": (10, 84),
}


@pytest.fixture(scope="module")
def weights_before(lenet: keras.Model) -> list[np.ndarray]:
    return [w.copy() for w in lenet.get_weights()]


@pytest.fixture(scope="module")
def exports(
    lenet: keras.Model, digits: Dataset, weights_before: list[np.ndarray]
) -> dict[str, bytes]:
    sample = digits.representative_sample(200)
    return {mode: to_tflite(lenet, mode, sample) for mode in QUANTIZATION_MODES}


def kernel_dtypes(tflite: bytes) -> dict[str, np.dtype]:
    """dtype of the tensor holding each LeNet kernel, found by its shape."""
    interpreter = Interpreter(model_content=tflite)
    details = interpreter.get_tensor_details()
    found = {}
    for layer, shape in LENET_KERNELS.items():
        matches = [d["dtype"] for d in details if tuple(d["shape"]) == shape]
        found[layer] = np.dtype(matches[0])
    return found


@pytest.mark.parametrize("mode", QUANTIZATION_MODES)
def test_it_exports_every_mode_that_loads_in_litert_and_keeps_accuracy(
    exports: dict[str, bytes], digits: Dataset, mode: str
) -> None:
    metrics = evaluate_tflite(exports[mode], digits.x_test, digits.y_test)
    assert metrics["accuracy"] > 0.8


def test_it_gives_the_interpreter_a_static_batch_of_one(exports: dict[str, bytes]) -> None:
    for mode, tflite in exports.items():
        interpreter = Interpreter(model_content=tflite)
        detail = interpreter.get_input_details()[0]
        assert list(detail["shape_signature"]) == [1, 8, 8, 1], mode
        assert list(interpreter.get_output_details()[0]["shape"]) == [1, 10], mode


def test_it_gives_the_int8_file_int8_input_output_and_weights(exports: dict[str, bytes]) -> None:
    interpreter = Interpreter(model_content=exports["int8"])
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    scale, _ = interpreter.get_input_details()[0]["quantization"]
    assert scale > 0
    assert set(kernel_dtypes(exports["int8"]).values()) == {np.dtype("int8")}


def test_it_stores_float16_weights_in_float16_mode(exports: dict[str, bytes]) -> None:
    assert set(kernel_dtypes(exports["float16"]).values()) == {np.dtype("float16")}
    interpreter = Interpreter(model_content=exports["float16"])
    assert interpreter.get_input_details()[0]["dtype"] == np.float32


def test_it_stores_large_weights_as_int8_in_dynamic_mode(exports: dict[str, bytes]) -> None:
    dtypes = kernel_dtypes(exports["dynamic"])
    # TFLite leaves tensors under 1,024 elements in float: conv1 has 150, fc3 840.
    for layer, shape in LENET_KERNELS.items():
        expected = "int8" if np.prod(shape) >= 1024 else "float32"
        assert dtypes[layer] == np.dtype(expected), layer
    interpreter = Interpreter(model_content=exports["dynamic"])
    assert interpreter.get_input_details()[0]["dtype"] == np.float32


def test_it_keeps_float32_weights_in_float32_mode(exports: dict[str, bytes]) -> None:
    assert set(kernel_dtypes(exports["float32"]).values()) == {np.dtype("float32")}


def test_it_shrinks_the_file_as_the_weights_narrow(exports: dict[str, bytes]) -> None:
    size = {mode: len(tflite) for mode, tflite in exports.items()}
    assert size["float16"] < 0.6 * size["float32"]
    assert size["int8"] < 0.4 * size["float32"]
    assert size["dynamic"] < 0.4 * size["float32"]


def test_it_calibrates_on_at_most_calibration_samples(digits: Dataset) -> None:
    inputs = keras.Input((8, 8, 1))
    tiny = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    # The second sample's range is 50 times the first's: the input scale shows
    # whether calibration saw it.
    sample = np.stack([digits.x_train[0], 50.0 * digits.x_train[1]])
    scales = []
    for count in (1, 2):
        tflite = to_tflite(tiny, "int8", sample, calibration_samples=count)
        scales.append(Interpreter(model_content=tflite).get_input_details()[0]["quantization"][0])
    assert scales[0] == pytest.approx(digits.x_train[0].max() / 255, rel=0.05)
    assert scales[1] > 20 * scales[0]


def test_it_leaves_the_model_unchanged(
    lenet: keras.Model, exports: dict[str, bytes], weights_before: list[np.ndarray]
) -> None:
    after = lenet.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(weights_before, after, strict=True))


def test_it_rejects_an_unknown_mode(lenet: keras.Model) -> None:
    with pytest.raises(ValueError, match=r"Received: mode='int4'"):
        to_tflite(lenet, "int4")


def test_it_needs_a_representative_sample_for_int8(lenet: keras.Model) -> None:
    with pytest.raises(ValueError, match=r"representative.*Received: mode='int8'"):
        to_tflite(lenet, "int8")


def test_it_rejects_a_representative_sample_of_the_wrong_shape(lenet: keras.Model) -> None:
    with pytest.raises(ValueError, match=r"shape \(N, 8, 8, 1\).*\(4, 28, 28, 1\)"):
        to_tflite(lenet, "int8", np.zeros((4, 28, 28, 1), "float32"))
