"""AQ-int8: full int8 (weights and activations) on the ``.tflite``, calibrated on the dataset."""

from __future__ import annotations

from typing import Any

import numpy as np

from compression.data.base import Dataset
from compression.techniques import register
from compression.tflite_quantizer import (
    DEFAULT_CALIBRATION_SAMPLES,
    TfliteQuantization,
)


@register
class TfliteStaticInt8(TfliteQuantization):
    """int8 weights and activations, activation ranges calibrated on training samples."""

    code = "AQ-int8"
    name = "Full int8 quantization of a .tflite"
    acts_on = "the .tflite's weights and activations (int8, calibrated)"
    export_mode = "aq-int8"
    param_names = ("samples",)
    description = (
        "Quantizes the .tflite flatbuffer with ai-edge-quantizer's static_wi8_ai8 recipe: "
        "weights and activations are int8; activation ranges come from running calibration "
        "samples of the dataset's training split through the float model. The fastest "
        "variant on integer hardware, for Keras, PyTorch and ready-made .tflite models."
    )
    reference = "ai-edge-quantizer recipe static_wi8_ai8 (Google AI Edge, 2024-)."

    def __init__(self, samples: int = DEFAULT_CALIBRATION_SAMPLES) -> None:
        """Args:
        samples: calibration samples drawn from the training split (1..10000).
        """
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 10000:
            raise ValueError(
                f"samples must be an integer in 1..10000. Received: samples={samples!r}"
            )
        self.samples = samples

    def calibration(self, model: Any, data: Dataset | None) -> np.ndarray:
        """``samples`` training inputs, in the layout a ready-made ``.tflite`` takes.

        Raises:
            ValueError: no data was given.
        """
        if data is None:
            raise ValueError(
                f"{self.code} needs training data to calibrate activation ranges. "
                "Received: data=None"
            )
        from compression.formats import format_of
        from compression.formats.tflite import arrange, check_input

        sample = data.representative_sample(self.samples)
        if format_of(model) == "tflite":  # Keras and PyTorch exports take NHWC
            sample = arrange(sample, check_input(model, data.input_shape))
        return sample
