"""TP: torch-pruning's DepGraph structured pruning of a PyTorch program, fine-tuned."""

from __future__ import annotations

import keras
import pytest

from compression.analysis import analyze_tflite
from compression.data import Dataset
from compression.errors import NotApplicableError
from compression.evaluation import evaluate_tflite
from compression.formats.pt2 import Conversion, TorchProgram
from compression.formats.tflite import load_tflite
from compression.techniques import get_technique
from compression.training import FineTune


def test_it_prunes_fine_tunes_and_converts_a_residual_cnn(
    digits_program: TorchProgram, digits_conversion: Conversion, digits: Dataset
) -> None:
    technique = get_technique("TP")(ratio=0.5)
    pruned = technique.apply(digits_program, data=digits, fine_tune=FineTune(epochs=3))
    assert isinstance(pruned, TorchProgram) and pruned.content != digits_program.content
    # Converted and checked against PyTorch in the child that pruned it: none started again.
    assert pruned.conversion is not None and pruned.conversion.max_abs_diff < 1e-3
    tflite = technique.export_tflite(pruned, digits)
    assert tflite == pruned.conversion.tflite
    before, after = analyze_tflite(digits_conversion.tflite), analyze_tflite(tflite)
    # Half of each prunable group's channels go; the classifier's 10 outputs stay.
    assert after["params"] < 0.5 * before["params"], (before["params"], after["params"])
    assert after["macs"] < 0.5 * before["macs"]
    assert load_tflite(tflite).output_shape == (digits.num_classes,)
    accuracy = evaluate_tflite(tflite, digits.x_test, digits.y_test)["accuracy"]
    assert accuracy > 0.3, accuracy  # 10 classes: chance is 0.1; fine-tuning was 3 epochs


def test_it_refuses_a_keras_model(lenet: keras.Model, digits: Dataset) -> None:
    technique = get_technique("TP")()
    with pytest.raises(NotApplicableError, match=r"TP prunes PyTorch programs \(.pt2\) only"):
        technique.apply(lenet, data=digits)
    with pytest.raises(NotApplicableError, match="TP acts on pt2 models only"):
        technique.check_accepts("keras")


def test_it_validates_its_ratio() -> None:
    assert get_technique("TP")(ratio=0.25).get_config() == {"ratio": 0.25}
    for bad in (0, 1, 1.5, True, "half"):
        with pytest.raises(ValueError, match=r"ratio must be a number in \(0, 1\)"):
            get_technique("TP")(ratio=bad)
