"""What the post-training quantization techniques share (Q-dyn, Q-f16, Q-int8).

They leave the Keras model as it is and name the export mode of
``compression.export.to_tflite`` that does the work. Private (leading
underscore): the registry does not look for techniques here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import keras

from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.export import DEFAULT_CALIBRATION_SAMPLES, to_tflite
from compression.surgery import copy_model
from compression.techniques.base import Technique
from compression.training import FineTune


class PostTrainingQuantization(Technique):
    """Shared behaviour of the post-training quantization techniques.

    Quantization happens when the model is exported (``export_mode`` names the
    converter setting), so ``apply`` returns an unchanged copy of the model.
    """

    category: ClassVar[str] = "quantization"
    applies_to: ClassVar[str] = "model"

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return an unchanged copy of ``model``; quantization is done by ``to_tflite``.

        Raises:
            NotApplicableError: target layers were named; quantization acts on
                the whole model.
        """
        if targets:
            raise NotApplicableError(
                f"{self.code} quantizes the whole model at export and takes no target "
                f"layers. Received: targets={list(targets)}"
            )
        return copy_model(model)

    def export_tflite(self, model: keras.Model, data: Dataset | None = None) -> bytes:
        """Export ``model`` to ``.tflite`` with this technique's quantization.

        Args:
            model: the model to export (usually the output of ``apply``).
            data: the training data; its representative sample calibrates int8.

        Returns:
            The ``.tflite`` file's bytes.
        """
        sample = None if data is None else data.representative_sample(DEFAULT_CALIBRATION_SAMPLES)
        return to_tflite(model, self.export_mode or "float32", sample)
