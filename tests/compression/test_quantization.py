"""The post-training quantization techniques Q-dyn, Q-f16 and Q-int8."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from compression.categories import CATEGORIES, SCOPES
from compression.data import Dataset
from compression.errors import NotApplicableError
from compression.evaluation import evaluate_tflite
from compression.techniques import all_techniques, get_technique

EXPORT_MODES = {"Q-dyn": "dynamic", "Q-f16": "float16", "Q-int8": "int8"}


@pytest.fixture(scope="module")
def exported(lenet: keras.Model, digits: Dataset) -> dict[str, bytes]:
    """Each technique applied to LeNet, then exported through the technique."""
    files = {}
    for code in EXPORT_MODES:
        technique = get_technique(code)()
        files[code] = technique.export_tflite(technique.apply(lenet), digits)
    return files


@pytest.mark.parametrize("code", sorted(EXPORT_MODES))
def test_it_registers_each_quantization_technique(code: str) -> None:
    cls = get_technique(code)
    assert cls in all_techniques()
    assert cls.code == code
    assert cls.category == "quantization" and cls.category in CATEGORIES
    assert cls.applies_to == "model" and cls.applies_to in SCOPES
    assert cls.export_mode == EXPORT_MODES[code]
    assert cls.name and cls.description and "TensorFlow Lite" in cls.reference


@pytest.mark.parametrize("code", sorted(EXPORT_MODES))
def test_it_returns_an_unchanged_copy(code: str, lenet: keras.Model, digits: Dataset) -> None:
    before = [w.copy() for w in lenet.get_weights()]
    copy = get_technique(code)().apply(lenet)
    assert copy is not lenet
    assert [layer.name for layer in copy.layers] == [layer.name for layer in lenet.layers]
    for original, copied in zip(before, copy.get_weights(), strict=True):
        np.testing.assert_array_equal(original, copied)
    for original, now in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(original, now)
    # The copy is independent: changing it leaves the input alone.
    copy.get_layer("fc1").kernel.assign(np.zeros((64, 120), "float32"))
    assert np.count_nonzero(lenet.get_layer("fc1").get_weights()[0]) > 0


@pytest.mark.parametrize("code", sorted(EXPORT_MODES))
def test_it_quantizes_at_export_and_still_classifies(
    code: str, exported: dict[str, bytes], digits: Dataset
) -> None:
    metrics = evaluate_tflite(exported[code], digits.x_test, digits.y_test)
    assert metrics["accuracy"] > 0.8


def test_it_exports_q_int8_with_int8_input_output_and_weights(
    exported: dict[str, bytes],
) -> None:
    interpreter = Interpreter(model_content=exported["Q-int8"])
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    fc2 = [d for d in interpreter.get_tensor_details() if tuple(d["shape"]) == (84, 120)]
    assert fc2 and fc2[0]["dtype"] == np.int8


def test_it_exports_q_f16_with_float16_weights(exported: dict[str, bytes]) -> None:
    details = Interpreter(model_content=exported["Q-f16"]).get_tensor_details()
    fc2 = {np.dtype(d["dtype"]) for d in details if tuple(d["shape"]) == (84, 120)}
    # The float16 weights, and the float32 copy DEQUANTIZE makes of them at load.
    assert np.dtype("float16") in fc2


def test_it_defaults_q_int8_to_200_calibration_samples() -> None:
    technique = get_technique("Q-int8")()
    assert technique.samples == 200
    assert technique.get_config() == {"samples": 200}


@pytest.mark.parametrize("samples", [0, 10001, -5, 2.5, True, "200", None])
def test_it_rejects_invalid_sample_counts(samples: object) -> None:
    with pytest.raises(ValueError, match=r"Received: samples="):
        get_technique("Q-int8")(samples=samples)


@pytest.mark.parametrize("code", sorted(EXPORT_MODES))
def test_it_round_trips_its_config(code: str) -> None:
    cls = get_technique(code)
    technique = cls(samples=37) if cls.param_names else cls()
    clone = cls.from_config(technique.get_config())
    assert clone == technique
    assert clone.get_config() == technique.get_config()


def test_it_takes_no_target_layers(lenet: keras.Model) -> None:
    with pytest.raises(NotApplicableError, match=r"whole model.*Received: targets=\['fc1'\]"):
        get_technique("Q-dyn")().apply(lenet, targets=["fc1"])


def test_it_needs_data_to_calibrate_q_int8(lenet: keras.Model) -> None:
    with pytest.raises(ValueError, match=r"calibrate.*Received: data=None"):
        get_technique("Q-int8")().export_tflite(lenet)
