"""AQ-w4: weight-only int4 on the ``.tflite`` (ai-edge-quantizer)."""

from __future__ import annotations

from compression.techniques import register
from compression.tflite_quantizer import TfliteQuantization


@register
class TfliteWeightOnlyInt4(TfliteQuantization):
    """int4 weights dequantized to float before each op."""

    code = "AQ-w4"
    name = "Weight-only int4 quantization of a .tflite"
    acts_on = "the .tflite's weight tensors (packed int4)"
    export_mode = "aq-w4"
    description = (
        "Quantizes the .tflite flatbuffer with ai-edge-quantizer's weight_only_wi4_afp32 "
        "recipe: weights are stored as packed 4-bit integers, channel-wise, and dequantized "
        "before each op; compute stays float32. Up to 8x smaller weights, at a larger "
        "accuracy cost than int8."
    )
    reference = "ai-edge-quantizer recipe weight_only_wi4_afp32 (Google AI Edge, 2024-)."
