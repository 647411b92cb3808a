"""Q-dyn: dynamic-range post-training quantization (TFLite)."""

from __future__ import annotations

from compression.techniques import register
from compression.techniques._post_training import PostTrainingQuantization


@register
class DynamicRangeQuantization(PostTrainingQuantization):
    """Weights stored as int8, activations kept in float and quantized on the fly."""

    code = "Q-dyn"
    name = "Dynamic-range quantization"
    acts_on = (
        "every Dense, Conv2D and DepthwiseConv2D kernel, at export (int8 weights, float "
        "activations)"
    )
    export_mode = "dynamic"
    description = (
        "Post-training quantization applied when the model is exported to TFLite: weights "
        "are stored as 8-bit integers with a per-tensor or per-channel scale, activations "
        "stay in floating point and are quantized on the fly by kernels that support it. "
        "About 4x smaller weights with no calibration data; the Keras model is unchanged."
    )
    reference = (
        "TensorFlow Lite post-training quantization guide (dynamic range quantization); "
        "seed 003, table 2."
    )
