"""Accuracy, top-5, precision, recall and F1 of a model on a labelled split.

The metrics follow seed 001 section III-B: accuracy, then precision, recall
and F1 per class, macro-averaged (every class weighs the same) with
scikit-learn, ``zero_division=0`` for a class never predicted.
``evaluate_tflite`` runs the ``.tflite`` file itself through LiteRT, one
sample at a time (batch size 1, as on a device), so the figures are those of
the artifact that ships, quantization included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, top_k_accuracy_score

from compression.analysis import read_tflite
from compression.errors import ModelFileError

TOP_K = 5


def evaluate_tflite(
    tflite: bytes | str | Path, x: np.ndarray, y: np.ndarray, num_threads: int = 1
) -> dict[str, Any]:
    """Classification metrics of a ``.tflite`` model run through LiteRT.

    Args:
        tflite: the file's bytes or its path.
        x: inputs (N, *input_shape), float as the Keras model takes them; int8
            models get them quantized with their input tensor's scale and zero point.
        y: integer class labels (N,).
        num_threads: interpreter threads.

    Returns:
        ``accuracy``, ``top5_accuracy`` (None with 5 classes or fewer),
        ``precision``, ``recall`` and ``f1`` (macro averages), all in 0..1.

    Raises:
        ValueError: the file is not a loadable TFLite model, or ``x`` / ``y``
            do not fit it.
    """
    interpreter = _load(read_tflite(tflite), num_threads)
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    x = _check_inputs(x, y, tuple(int(d) for d in source["shape"][1:]))
    scores = []
    for sample in x:
        interpreter.set_tensor(source["index"], _quantize(sample[np.newaxis], source))
        interpreter.invoke()
        scores.append(_dequantize(interpreter.get_tensor(target["index"]), target))
    return classification_metrics(y, np.concatenate(scores))


def evaluate_keras(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The same metrics as ``evaluate_tflite`` for a Keras model (for comparison).

    Raises:
        ValueError: ``x`` / ``y`` do not fit the model.
    """
    x = _check_inputs(x, y, tuple(int(d) for d in model.inputs[0].shape[1:]))
    return classification_metrics(y, model.predict(x, batch_size=256, verbose=0))


def classification_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Metrics of class scores (N, classes) against labels (N,).

    Args:
        y: integer class labels.
        scores: one row of class scores (probabilities or logits) per sample.

    Returns:
        ``accuracy``, ``top5_accuracy`` (None with 5 classes or fewer),
        ``precision``, ``recall``, ``f1``.
    """
    y = np.asarray(y).astype("int64").ravel()
    scores = np.asarray(scores, dtype="float64").reshape(len(y), -1)
    classes = scores.shape[1]
    predicted = scores.argmax(axis=1)
    labels = np.arange(classes)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, predicted, labels=labels, average="macro", zero_division=0
    )
    top5 = None
    if classes > TOP_K:
        top5 = float(top_k_accuracy_score(y, scores, k=TOP_K, labels=labels))
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "top5_accuracy": top5,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def _load(content: bytes, num_threads: int) -> Interpreter:
    if num_threads < 1:
        raise ValueError(f"num_threads must be positive. Received: num_threads={num_threads}")
    try:
        interpreter = Interpreter(model_content=content, num_threads=num_threads)
        detail = interpreter.get_input_details()[0]
        if detail["shape"][0] != 1:  # a dynamic or larger batch: run one sample at a time
            interpreter.resize_tensor_input(detail["index"], [1, *detail["shape"][1:]])
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError, IndexError) as error:
        raise ModelFileError(
            f"LiteRT cannot load this model ({len(content)} bytes); it is not a valid "
            f".tflite file. Interpreter said: {str(error).strip()[:200]}"
        ) from None
    return interpreter


def _check_inputs(x: np.ndarray, y: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x, dtype="float32")
    if x.ndim != len(input_shape) + 1 or tuple(x.shape[1:]) != input_shape:
        raise ValueError(
            f"Inputs do not match the model: it takes samples of shape {input_shape}. "
            f"Received: x of shape {x.shape}"
        )
    if len(np.asarray(y).ravel()) != len(x) or not len(x):
        raise ValueError(
            "x and y must hold the same, non-zero number of samples. "
            f"Received: x of shape {x.shape}, y of shape {np.shape(y)}"
        )
    return x


def _quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float inputs as the input tensor's type (int8/uint8 through its scale)."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if not np.issubdtype(dtype, np.integer) or scale == 0:  # 0: not a quantized tensor
        return values.astype(dtype)
    # TFLite's affine mapping: real = scale * (q - zero_point).
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Output scores as float32 (int8/uint8 through the output tensor's scale)."""
    scale, zero_point = detail["quantization"]
    if not np.issubdtype(np.dtype(detail["dtype"]), np.integer) or scale == 0:
        return values.astype("float32")
    return (values.astype("float32") - zero_point) * scale
