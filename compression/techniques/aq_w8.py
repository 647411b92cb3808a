"""AQ-w8: weight-only int8 on the ``.tflite`` (ai-edge-quantizer)."""

from __future__ import annotations

from compression.techniques import register
from compression.tflite_quantizer import TfliteQuantization


@register
class TfliteWeightOnlyInt8(TfliteQuantization):
    """int8 weights dequantized to float before each op: float compute, smaller file."""

    code = "AQ-w8"
    name = "Weight-only int8 quantization of a .tflite"
    acts_on = "the .tflite's weight tensors (int8, dequantized before each op)"
    export_mode = "aq-w8"
    description = (
        "Quantizes the .tflite flatbuffer with ai-edge-quantizer's weight_only_wi8_afp32 "
        "recipe: weights are stored as int8 and explicitly dequantized before each op, so "
        "compute stays float32 and accuracy is kept; the file is about 4x smaller in its "
        "weights, latency is unchanged or slightly higher."
    )
    reference = "ai-edge-quantizer recipe weight_only_wi8_afp32 (Google AI Edge, 2024-)."
