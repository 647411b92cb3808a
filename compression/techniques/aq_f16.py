"""AQ-f16: float16 weights on the ``.tflite`` (ai-edge-quantizer float casting)."""

from __future__ import annotations

from compression.techniques import register
from compression.tflite_quantizer import TfliteQuantization


@register
class TfliteFloat16(TfliteQuantization):
    """float16 weights, float32 compute."""

    code = "AQ-f16"
    name = "float16 weights of a .tflite"
    acts_on = "the .tflite's weight tensors (float16)"
    export_mode = "aq-f16"
    description = (
        "Casts the .tflite's weights to float16 with ai-edge-quantizer's FLOAT_CASTING "
        "algorithm (weight-only, 16 bits); they are dequantized to float32 before each op. "
        "About 2x smaller weights with almost no accuracy change, for any model format."
    )
    reference = "ai-edge-quantizer float_casting algorithm (Google AI Edge, 2024-)."
