"""Compressing a model that arrived as a .tflite or .pt2: plan, file, figures, layout."""

from __future__ import annotations

import hashlib
import sys

import pytest

from compression.data import Dataset
from compression.errors import ModelInputError, NotApplicableError
from compression.formats.pipeline import compress_model_file, load_model_file, model_file_key
from compression.formats.pt2 import Conversion, TorchProgram
from compression.formats.tflite import TfliteModel, load_tflite
from compression.plan import Plan
from tests.compression.tflite_files import channels_first_tflite


@pytest.fixture(scope="module")
def channels_first(digits: Dataset) -> TfliteModel:
    """A trained .tflite taking (1, 8, 8) samples: NCHW, as a PyTorch export would."""
    return load_tflite(channels_first_tflite(digits))


def test_it_measures_a_channels_first_tflite_through_its_own_layout(
    channels_first: TfliteModel, digits: Dataset, tmp_path
) -> None:
    assert channels_first.layout == "NCHW"
    output = compress_model_file(channels_first, Plan.baseline(), digits, tmp_path)
    assert output.keras_path is None
    assert output.tflite_path.read_bytes() == channels_first.content  # the file itself
    assert output.key == model_file_key(channels_first, "baseline")
    # Accuracy through the file on NHWC test samples moved channels first.
    assert output.accuracy_metrics["accuracy"] > 0.85, output.accuracy_metrics
    metrics = output.static_metrics
    assert metrics["source_format"] == "tflite" and "conversion" not in metrics
    assert metrics["structure_source"] == "the .tflite flatbuffer" and metrics["params"] > 0
    assert metrics["recovery"]["gap_points"] == 0 and metrics["recovery"]["recovered"]


def test_it_quantizes_a_channels_first_tflite_calibrated_in_its_layout(
    channels_first: TfliteModel, digits: Dataset, tmp_path
) -> None:
    output = compress_model_file(channels_first, "AQ-int8(samples=50)", digits, tmp_path)
    assert output.export_mode == "aq-int8"
    assert load_tflite(output.tflite_path).input_dtype == "int8"
    recovery = output.static_metrics["recovery"]
    assert recovery["baseline_accuracy"] > 0.85 and recovery["gap_points"] < 5, recovery
    assert output.static_metrics["file_size_bytes"] < len(channels_first.content)
    assert [p.name for p in tmp_path.iterdir()] == [output.tflite_path.name]


def test_it_refuses_a_keras_only_technique_naming_the_format(
    channels_first: TfliteModel, digits: Dataset, tmp_path
) -> None:
    with pytest.raises(NotApplicableError, match="W3 acts on keras models only.*tflite"):
        compress_model_file(channels_first, "W3(s=0.5)", digits, tmp_path)
    assert not list(tmp_path.iterdir())


def test_it_refuses_a_dataset_the_file_does_not_fit(channels_first: TfliteModel, tmp_path) -> None:
    from compression.data import load_digits

    wrong = load_digits(seed=0, resize_to=12)
    with pytest.raises(ModelInputError, match="do not fit either"):
        compress_model_file(channels_first, Plan.baseline(), wrong, tmp_path)


def test_it_reads_each_stored_format_by_name(channels_first: TfliteModel, tmp_path) -> None:
    path = tmp_path / "net.tflite"
    path.write_bytes(channels_first.content)
    assert load_model_file(path, "tflite").content == channels_first.content
    with pytest.raises(ValueError, match="model_format must be one of tflite, pt2"):
        load_model_file(path, "keras")


def test_it_reuses_a_programs_conversion_and_says_when_it_was_measured(
    digits_program: TorchProgram, digits_conversion: Conversion, digits: Dataset, tmp_path
) -> None:
    output = compress_model_file(
        digits_program, "AQ-dyn", digits, tmp_path, conversion=digits_conversion
    )
    figures = output.static_metrics["conversion"]
    assert figures["max_abs_diff"] == digits_conversion.max_abs_diff < 1e-4
    assert figures["program_layout"] == "NCHW" and "measured at upload" in figures["source"]
    assert "int8" in output.static_metrics["weight_dtypes"]
    assert output.static_metrics["recovery"]["baseline_accuracy"] > 0.5
    assert output.accuracy_metrics["accuracy"] > 0.5
    assert "torch" not in sys.modules


def test_it_converts_a_program_itself_when_no_conversion_is_given(
    digits_program: TorchProgram, digits: Dataset, tmp_path
) -> None:
    output = compress_model_file(digits_program, Plan.baseline(), digits, tmp_path)
    figures = output.static_metrics["conversion"]
    assert figures["max_abs_diff"] < 1e-4 and "in this compression" in figures["source"]
    assert figures["compared_samples"] == 8 and figures["seconds"] > 0
    assert output.static_metrics["source_format"] == "pt2"
    digest = hashlib.sha256(digits_program.content).hexdigest()
    assert output.key == hashlib.sha256((digest + "baseline").encode()).hexdigest()
    assert load_tflite(output.tflite_path).input_shape == tuple(digits.input_shape)  # NHWC
