"""AQ-* techniques: ai-edge-quantizer recipes acting on a .tflite, whatever its source."""

from __future__ import annotations

import keras
import pytest

from compression.analysis import analyze_tflite
from compression.categories import CATEGORIES
from compression.data import Dataset
from compression.errors import NotApplicableError
from compression.evaluation import evaluate_tflite
from compression.export import to_tflite
from compression.formats.pt2 import Conversion
from compression.formats.tflite import TfliteModel, load_tflite
from compression.techniques import all_techniques, get_technique

# Each recipe's mark in the file: the weight dtypes it stores and the input dtype.
EXPECTED = {
    "AQ-dyn": ({"int8"}, "float32"),
    "AQ-w8": ({"int8"}, "float32"),
    "AQ-w4": ({"int4"}, "float32"),
    "AQ-int8": ({"int8"}, "int8"),
    "AQ-f16": ({"float16"}, "float32"),
}


@pytest.fixture(scope="module")
def lenet_file(lenet: keras.Model) -> TfliteModel:
    return load_tflite(to_tflite(lenet, "float32"))


@pytest.fixture(scope="module")
def float_accuracy(lenet_file: TfliteModel, digits: Dataset) -> float:
    return evaluate_tflite(lenet_file.content, digits.x_test, digits.y_test)["accuracy"]


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_it_registers_each_tflite_technique_for_every_format(code: str) -> None:
    cls = get_technique(code)
    assert cls.category == "quantization" and cls.category in CATEGORIES
    assert cls.accepts == ("keras", "tflite", "pt2") and cls.export_mode.startswith("aq-")
    assert cls in all_techniques() and cls in all_techniques("tflite")
    assert "ai-edge-quantizer" in cls.reference and len(cls.description) > 40
    assert cls.from_config(cls.default_config()) == cls()


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_it_quantizes_a_tflite_file_and_keeps_its_accuracy(
    code: str, lenet_file: TfliteModel, float_accuracy: float, digits: Dataset
) -> None:
    technique = get_technique(code)()
    assert technique.apply(lenet_file) is lenet_file
    quantized = technique.export_tflite(lenet_file, digits)
    before, after = analyze_tflite(lenet_file.content), analyze_tflite(quantized)
    weights, input_dtype = EXPECTED[code]
    assert before["weight_dtypes"] == ["float32"]
    assert weights <= set(after["weight_dtypes"]), after["weight_dtypes"]
    assert after["file_size_bytes"] < before["file_size_bytes"] * 0.7
    assert load_tflite(quantized).input_dtype == input_dtype
    accuracy = evaluate_tflite(quantized, digits.x_test, digits.y_test)["accuracy"]
    assert accuracy > float_accuracy - 0.05 and accuracy > 0.8, accuracy


@pytest.mark.parametrize("code", ["AQ-dyn", "AQ-int8"])
def test_it_quantizes_a_converted_pytorch_program(
    code: str, digits_conversion: Conversion, digits: Dataset
) -> None:
    converted = load_tflite(digits_conversion.tflite)
    baseline = evaluate_tflite(converted.content, digits.x_test, digits.y_test)["accuracy"]
    quantized = get_technique(code)().export_tflite(converted, digits)
    assert len(quantized) < len(converted.content)
    accuracy = evaluate_tflite(quantized, digits.x_test, digits.y_test)["accuracy"]
    assert baseline > 0.5 and accuracy > baseline - 0.1, (baseline, accuracy)


def test_it_quantizes_a_keras_model_at_export(lenet: keras.Model, digits: Dataset) -> None:
    technique = get_technique("AQ-dyn")()
    copy = technique.apply(lenet)
    assert copy is not lenet and isinstance(copy, keras.Model)
    quantized = technique.export_tflite(copy, digits)
    assert "int8" in analyze_tflite(quantized)["weight_dtypes"]
    assert evaluate_tflite(quantized, digits.x_test, digits.y_test)["accuracy"] > 0.8


def test_it_needs_data_to_calibrate_full_int8(lenet_file: TfliteModel) -> None:
    with pytest.raises(ValueError, match="AQ-int8 needs training data"):
        get_technique("AQ-int8")().export_tflite(lenet_file)
    with pytest.raises(ValueError, match=r"samples must be an integer in 1..10000"):
        get_technique("AQ-int8")(samples=0)


def test_it_refuses_target_layers(lenet_file: TfliteModel) -> None:
    with pytest.raises(NotApplicableError, match="takes no target layers"):
        get_technique("AQ-w8")().apply(lenet_file, targets=["fc1"])


def test_it_says_which_formats_a_technique_takes() -> None:
    with pytest.raises(NotApplicableError, match="W3 acts on keras models only.*tflite"):
        get_technique("W3").check_accepts("tflite")
    get_technique("W3").check_accepts("keras")
    get_technique("AQ-dyn").check_accepts("pt2")
    keras_only = {cls.code for cls in all_techniques()} - {c.code for c in all_techniques("tflite")}
    assert {"W3", "C1", "Q-dyn"} <= keras_only
    assert {c.code for c in all_techniques("pt2")} >= {"TP", "AQ-int8"}
    assert "TP" not in {c.code for c in all_techniques()}  # Keras callers never see it
    assert "TP" in {c.code for c in all_techniques(None)}
