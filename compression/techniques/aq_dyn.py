"""AQ-dyn: dynamic-range int8 weights on the ``.tflite`` (ai-edge-quantizer)."""

from __future__ import annotations

from compression.techniques import register
from compression.tflite_quantizer import TfliteQuantization


@register
class TfliteDynamicQuantization(TfliteQuantization):
    """int8 weights, float activations quantized on the fly, for any model format."""

    code = "AQ-dyn"
    name = "Dynamic-range quantization of a .tflite"
    acts_on = "the .tflite's weight tensors (int8, activations float)"
    export_mode = "aq-dyn"
    description = (
        "Quantizes the .tflite flatbuffer itself with ai-edge-quantizer's dynamic_wi8_afp32 "
        "recipe: weights become channel-wise symmetric int8, activations stay float and are "
        "quantized on the fly by the kernels. Works on Keras, PyTorch and ready-made "
        ".tflite models alike; no calibration data."
    )
    reference = "ai-edge-quantizer recipe dynamic_wi8_afp32 (Google AI Edge, 2024-)."
