"""Post-training quantization of a ``.tflite`` itself, through ai-edge-quantizer recipes.

Unlike ``compression.export`` (TFLite converter settings, Keras only), these
act on the flatbuffer, so they serve every model whatever its source: a Keras
model is exported float32 first, a PyTorch program converted with
litert-torch, a ready-made ``.tflite`` taken as it is. The ``AQ-*`` techniques
share ``TfliteQuantization``: ``apply`` leaves the model as it is and
``export_tflite`` quantizes with the technique's recipe (its ``export_mode``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from compression.data.base import Dataset
from compression.errors import ModelFileError, NotApplicableError
from compression.techniques.base import Technique
from compression.training import FineTune

DEFAULT_CALIBRATION_SAMPLES = 100
_MAX_CAUSE = 300


def _recipes() -> dict[str, Callable[[], Any]]:
    from ai_edge_quantizer import qtyping, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    def float16() -> Any:  # weight-only float casting: float16 weights, float compute
        manager = recipe_manager.RecipeManager()
        manager.add_weight_only_config(
            regex=".*",
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            num_bits=16,
            algorithm_key=AlgorithmName.FLOAT_CASTING,
        )
        return manager.get_quantization_recipe()

    return {
        "aq-dyn": recipe.dynamic_wi8_afp32,
        "aq-w8": recipe.weight_only_wi8_afp32,
        "aq-w4": recipe.weight_only_wi4_afp32,
        "aq-int8": recipe.static_wi8_ai8,
        "aq-f16": float16,
    }


RECIPE_NAMES = ("aq-dyn", "aq-w8", "aq-w4", "aq-int8", "aq-f16")


def quantize_tflite(content: bytes, recipe: str, calibration: np.ndarray | None = None) -> bytes:
    """Quantize a float ``.tflite`` with one of ``RECIPE_NAMES``.

    Args:
        content: the float model's bytes.
        recipe: which recipe; ``aq-int8`` needs ``calibration``.
        calibration: input samples (N, *input_shape) in the model's layout.

    Returns:
        The quantized ``.tflite`` bytes.

    Raises:
        ValueError: unknown recipe, or int8 without calibration samples.
        ModelFileError: the quantizer rejects the model.
    """
    if recipe not in RECIPE_NAMES:
        raise ValueError(f"Unknown recipe. Known: {', '.join(RECIPE_NAMES)}. Received: {recipe!r}")
    from ai_edge_quantizer import quantizer

    try:
        engine = quantizer.Quantizer(bytearray(content), _recipes()[recipe]())
        calibrated = _calibrate(engine, content, calibration) if engine.need_calibration else None
        result = engine.quantize(calibrated, enable_progress_report=False)
    except (ValueError, RuntimeError, KeyError) as error:
        raise ModelFileError(
            f"ai-edge-quantizer could not apply {recipe} to this model: "
            f"{str(error).strip()[:_MAX_CAUSE]}"
        ) from None
    return bytes(result.quantized_model)


def _calibrate(engine: Any, content: bytes, samples: np.ndarray | None) -> Any:
    if samples is None or not len(samples):
        raise ValueError("Full-integer quantization needs calibration samples. Received: none")
    signatures = Interpreter(model_content=content).get_signature_list()
    if not signatures:
        raise ModelFileError("Calibration runs a signature; this .tflite defines none")
    key, signature = next(iter(signatures.items()))
    name = signature["inputs"][0]
    batches = [{name: np.asarray(s[np.newaxis], "float32")} for s in samples]
    return engine.calibrate({key: batches})


class TfliteQuantization(Technique):
    """Shared behaviour of the ``AQ-*`` techniques: quantization at export, any format."""

    category: ClassVar[str] = "quantization"
    applies_to: ClassVar[str] = "model"
    accepts: ClassVar[tuple[str, ...]] = ("keras", "tflite", "pt2")

    def apply(
        self,
        model: Any,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> Any:
        """Return ``model`` to quantize at export (a copy for a Keras model).

        Raises:
            NotApplicableError: target layers were named.
        """
        from compression.formats import format_of

        if targets:
            raise NotApplicableError(
                f"{self.code} quantizes the whole model at export and takes no target "
                f"layers. Received: targets={list(targets)}"
            )
        if format_of(model) == "keras":
            from compression.surgery import copy_model

            return copy_model(model)
        return model  # TfliteModel and TorchProgram are immutable

    def export_tflite(self, model: Any, data: Dataset | None = None) -> bytes:
        """The quantized ``.tflite`` of a Keras model, ``.tflite`` or PyTorch program."""
        content = float_tflite(model, data)
        return quantize_tflite(content, self.export_mode or "", self.calibration(model, data))

    def calibration(self, model: Any, data: Dataset | None) -> np.ndarray | None:
        """Calibration samples; only full-integer quantization needs them."""
        return None


def float_tflite(model: Any, data: Dataset | None) -> bytes:
    """The float32 ``.tflite`` of a model in any format (NHWC input).

    Raises:
        ValueError: a PyTorch program without data to check its conversion on.
    """
    from compression.formats import format_of

    kind = format_of(model)
    if kind == "tflite":
        return model.content
    if kind == "pt2":
        from compression.formats.pt2 import convert_pt2

        if data is None:
            raise ValueError("Converting a PyTorch program needs data. Received: data=None")
        return convert_pt2(model, data.x_val).tflite
    from compression.export import to_tflite

    return to_tflite(model, "float32")
