"""Keras -> ``.tflite`` with TFLite post-training quantization.

Four modes, as in seed 003 table 2 and the TFLite post-training quantization
guide: ``float32`` (no quantization), ``dynamic`` (int8 weights, float
activations quantized on the fly), ``float16`` (float16 weights) and ``int8``
(int8 weights and activations, int8 input and output, calibrated on a
representative sample). Each mode is a small function, looked up in
``_MODES``, that returns the converter settings it needs.

Keras 3 models are exported as a TensorFlow SavedModel with a batch-1 input
signature, then converted; the batch of 1 gives the interpreter static shapes.

A pure converter: the quantization techniques that name these modes live in
``compression.techniques`` (``_post_training.py``), so nothing here imports a
technique and the techniques import this module, never the other way round.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

QUANTIZATION_MODES = ("float32", "dynamic", "float16", "int8")
# TFLite's guide and seed 003 calibrate full-integer models on a few hundred samples.
DEFAULT_CALIBRATION_SAMPLES = 200

# A mode turns (representative sample, calibration count) into converter
# settings: attribute paths on the TFLiteConverter and their values. Modes
# validate their inputs here, before the (slow) SavedModel export.
Settings = dict[str, Any]
ModeSettings = Callable[["np.ndarray | None", int], Settings]


def to_tflite(
    model: keras.Model,
    mode: str = "float32",
    representative: np.ndarray | None = None,
    *,
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
) -> bytes:
    """Convert a Keras model to a ``.tflite`` flatbuffer.

    Args:
        model: a single-input Keras model.
        mode: one of ``QUANTIZATION_MODES``.
        representative: input samples (N, *input_shape) for int8 calibration;
            required for ``int8``, ignored otherwise.
        calibration_samples: how many of ``representative`` (the first ones)
            calibrate an int8 model.

    Returns:
        The ``.tflite`` file's bytes; its input has batch size 1.

    Raises:
        ValueError: unknown mode, int8 without a representative sample, a
            sample of the wrong shape, or a model with several inputs.
    """
    if mode not in _MODES:
        raise ValueError(
            f"Unknown quantization mode. Known modes: {', '.join(QUANTIZATION_MODES)}. "
            f"Received: mode={mode!r}"
        )
    if len(model.inputs) != 1:
        raise ValueError(
            "to_tflite exports single-input models. "
            f"Received: model with {len(model.inputs)} inputs"
        )
    input_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    sample = _check_sample(representative, input_shape, mode)
    settings = _MODES[mode](sample, calibration_samples)
    with tempfile.TemporaryDirectory(prefix="compresso-export-") as saved:
        # A batch of 1 in the signature gives the interpreter static shapes.
        spec = tf.TensorSpec((1, *input_shape), tf.float32, name="input")
        model.export(saved, format="tf_saved_model", verbose=False, input_signature=[spec])
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        for path, value in settings.items():
            *owners, attribute = path.split(".")
            setattr(functools.reduce(getattr, owners, converter), attribute, value)
        return bytes(converter.convert())


def _check_sample(
    representative: np.ndarray | None, input_shape: tuple[int, ...], mode: str
) -> np.ndarray | None:
    if representative is None:
        return None
    sample = np.asarray(representative, dtype="float32")
    if sample.shape[1:] != input_shape or not len(sample):
        raise ValueError(
            f"The representative sample must be a non-empty array of shape (N, "
            f"{', '.join(map(str, input_shape))}). Received: representative of shape "
            f"{sample.shape} for mode={mode!r}"
        )
    return sample


def _float32(sample: np.ndarray | None, count: int) -> Settings:
    """No optimization: float32 weights and activations."""
    return {}


def _dynamic(sample: np.ndarray | None, count: int) -> Settings:
    """Dynamic range: int8 weights, activations quantized on the fly."""
    return {"optimizations": [tf.lite.Optimize.DEFAULT]}


def _float16(sample: np.ndarray | None, count: int) -> Settings:
    """float16 weights, dequantized to float32 when the model loads."""
    return {
        "optimizations": [tf.lite.Optimize.DEFAULT],
        "target_spec.supported_types": [tf.float16],
    }


def _int8(sample: np.ndarray | None, count: int) -> Settings:
    """Full integer: int8 weights and activations, int8 input and output."""
    if sample is None:
        raise ValueError(
            "Full-integer export needs a representative sample of inputs to calibrate "
            "activation ranges; pass representative=. Received: mode='int8'"
        )
    if count < 1:
        raise ValueError(
            f"calibration_samples must be positive. Received: calibration_samples={count}"
        )
    calibration = sample[:count]

    def samples() -> Iterator[list[np.ndarray]]:
        for i in range(len(calibration)):
            yield [calibration[i : i + 1]]

    return {
        "optimizations": [tf.lite.Optimize.DEFAULT],
        "representative_dataset": samples,
        "target_spec.supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8],
        "inference_input_type": tf.int8,
        "inference_output_type": tf.int8,
    }


_MODES: dict[str, ModeSettings] = {
    "float32": _float32,
    "dynamic": _dynamic,
    "float16": _float16,
    "int8": _int8,
}
