"""Q-int8: full-integer post-training quantization (TFLite)."""

from __future__ import annotations

import keras

from compression.data.base import Dataset
from compression.export import DEFAULT_CALIBRATION_SAMPLES, to_tflite
from compression.techniques import register
from compression.techniques._post_training import PostTrainingQuantization


@register
class FullIntegerQuantization(PostTrainingQuantization):
    """Weights and activations int8, int8 input and output, calibrated on samples."""

    code = "Q-int8"
    name = "Full-integer quantization"
    acts_on = (
        "every weight and activation, at export (int8 input and output; ranges calibrated on "
        "training inputs)"
    )
    export_mode = "int8"
    param_names = ("samples",)
    description = (
        "Post-training quantization applied when the model is exported to TFLite: weights "
        "and activations are 8-bit integers and so are the model's input and output. "
        "Activation ranges are calibrated by running a representative sample of training "
        "inputs through the float model. About 4x smaller and the fastest on integer-only "
        "hardware (Edge TPU, microcontrollers); the Keras model is unchanged."
    )
    reference = (
        "TensorFlow Lite post-training quantization guide (full integer quantization); "
        "Jacob et al. 2018; seed 003, table 2."
    )

    def __init__(self, samples: int = DEFAULT_CALIBRATION_SAMPLES) -> None:
        """Args:
        samples: calibration samples drawn from the training split (1..10000).
        """
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 10000:
            raise ValueError(
                f"samples must be an integer in 1..10000. Received: samples={samples!r}"
            )
        self.samples = samples

    def export_tflite(self, model: keras.Model, data: Dataset | None = None) -> bytes:
        """Export ``model`` as a full-integer ``.tflite`` calibrated on ``samples`` inputs.

        Args:
            model: the model to export (usually the output of ``apply``).
            data: the training data; ``samples`` of its training inputs,
                drawn with a fixed seed, calibrate the activation ranges.

        Raises:
            ValueError: no data was given.
        """
        if data is None:
            raise ValueError(
                f"{self.code} needs training data to calibrate activation ranges. "
                "Received: data=None"
            )
        sample = data.representative_sample(self.samples)
        return to_tflite(model, self.export_mode, sample, calibration_samples=self.samples)
