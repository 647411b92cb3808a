"""Q-f16: float16 post-training quantization (TFLite)."""

from __future__ import annotations

from compression.techniques import register
from compression.techniques._post_training import PostTrainingQuantization


@register
class Float16Quantization(PostTrainingQuantization):
    """Weights stored as float16, computed in float32 (or float16 on GPU delegates)."""

    code = "Q-f16"
    name = "Float16 quantization"
    acts_on = "every weight tensor, at export (stored as float16)"
    export_mode = "float16"
    description = (
        "Post-training quantization applied when the model is exported to TFLite: weights "
        "are stored as 16-bit floats, halving their size with a negligible accuracy loss. "
        "CPU kernels dequantize them to float32 when the model loads; GPU delegates can "
        "compute in float16 directly. The Keras model is unchanged."
    )
    reference = (
        "TensorFlow Lite post-training quantization guide (float16 quantization); "
        "seed 003, table 2."
    )
