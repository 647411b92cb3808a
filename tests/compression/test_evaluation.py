"""Accuracy, top-5, precision, recall and F1 through LiteRT and through Keras."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from compression.data import Dataset
from compression.evaluation import classification_metrics, evaluate_keras, evaluate_tflite
from compression.export import to_tflite

KEYS = {"accuracy", "top5_accuracy", "precision", "recall", "f1"}


@pytest.fixture(scope="module")
def files(lenet: keras.Model, digits: Dataset) -> dict[str, bytes]:
    sample = digits.representative_sample(200)
    return {mode: to_tflite(lenet, mode, sample) for mode in ("float32", "int8")}


def expected_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The metrics computed here, independently, from class scores."""
    predicted = scores.argmax(axis=1)
    top5 = np.argsort(-scores, axis=1)[:, :5]
    macro = {"average": "macro", "zero_division": 0, "labels": list(range(scores.shape[1]))}
    return {
        "accuracy": float(np.mean(predicted == y)),
        "top5_accuracy": float(np.mean((top5 == y[:, None]).any(axis=1))),
        "precision": precision_score(y, predicted, **macro),
        "recall": recall_score(y, predicted, **macro),
        "f1": f1_score(y, predicted, **macro),
    }


def test_it_matches_keras_predictions_on_the_float32_file(
    lenet: keras.Model, files: dict[str, bytes], digits: Dataset
) -> None:
    scores = lenet.predict(digits.x_test, verbose=0)
    expected = expected_metrics(digits.y_test, scores)
    metrics = evaluate_tflite(files["float32"], digits.x_test, digits.y_test)
    assert set(metrics) == KEYS
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    for key in ("precision", "recall", "f1", "top5_accuracy"):
        assert metrics[key] == pytest.approx(expected[key], abs=0.01), key


def test_it_evaluates_keras_models_with_the_same_metrics(
    lenet: keras.Model, digits: Dataset
) -> None:
    scores = lenet.predict(digits.x_test, verbose=0)
    expected = expected_metrics(digits.y_test, scores)
    metrics = evaluate_keras(lenet, digits.x_test, digits.y_test)
    assert set(metrics) == KEYS
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-9), key
    assert metrics["accuracy"] > 0.8


def test_it_dequantizes_the_int8_file(
    lenet: keras.Model, files: dict[str, bytes], digits: Dataset
) -> None:
    metrics = evaluate_tflite(files["int8"], digits.x_test, digits.y_test)
    reference = accuracy_score(digits.y_test, lenet.predict(digits.x_test, verbose=0).argmax(1))
    assert metrics["accuracy"] > 0.8
    assert abs(metrics["accuracy"] - reference) < 0.05
    assert metrics["top5_accuracy"] >= metrics["accuracy"]


def test_it_reads_a_path_and_uses_threads(
    files: dict[str, bytes], digits: Dataset, tmp_path: Path
) -> None:
    path = tmp_path / "lenet.tflite"
    path.write_bytes(files["float32"])
    x, y = digits.x_test[:50], digits.y_test[:50]
    one = evaluate_tflite(files["float32"], x, y)
    assert evaluate_tflite(path, x, y, num_threads=2) == one
    assert evaluate_tflite(str(path), x, y) == one


def test_it_scores_a_constant_classifier_by_hand() -> None:
    # Always predicting class 0 on 3 samples of class 0 and 7 of class 1, 2 classes:
    # class 0 has precision 3/10, recall 1, F1 2*0.3/1.3; class 1 all zero.
    y = np.array([0] * 3 + [1] * 7)
    scores = np.tile([0.9, 0.1], (10, 1))
    metrics = classification_metrics(y, scores)
    assert metrics["accuracy"] == pytest.approx(0.3)
    assert metrics["precision"] == pytest.approx(0.3 / 2)
    assert metrics["recall"] == pytest.approx(1 / 2)
    assert metrics["f1"] == pytest.approx((2 * 0.3 / 1.3) / 2)
    assert metrics["top5_accuracy"] is None


def test_it_counts_top5_hits_by_hand() -> None:
    # 7 classes; the true class ranks 1st, 5th and 6th in the three rows.
    scores = np.array(
        [
            [0.70, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
            [0.30, 0.25, 0.20, 0.15, 0.06, 0.03, 0.01],
            [0.30, 0.25, 0.20, 0.15, 0.06, 0.03, 0.01],
        ]
    )
    metrics = classification_metrics(np.array([0, 4, 5]), scores)
    assert metrics["top5_accuracy"] == pytest.approx(2 / 3)
    assert metrics["accuracy"] == pytest.approx(1 / 3)


def test_it_rejects_a_corrupt_file(digits: Dataset) -> None:
    garbage = np.random.default_rng(0).bytes(4096)
    with pytest.raises(ValueError, match=r"not a valid \.tflite file"):
        evaluate_tflite(garbage, digits.x_test, digits.y_test)


def test_it_rejects_inputs_of_the_wrong_shape(files: dict[str, bytes], digits: Dataset) -> None:
    wrong = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match=r"shape \(8, 8, 1\).*\(4, 28, 28, 1\)"):
        evaluate_tflite(files["float32"], wrong, np.zeros(4, "int64"))


def test_it_rejects_labels_that_do_not_match_the_inputs(
    lenet: keras.Model, files: dict[str, bytes], digits: Dataset
) -> None:
    with pytest.raises(ValueError, match=r"same, non-zero number of samples"):
        evaluate_tflite(files["float32"], digits.x_test, digits.y_test[:-1])
    with pytest.raises(ValueError, match=r"same, non-zero number of samples"):
        evaluate_keras(lenet, digits.x_test[:3], digits.y_test[:2])
