"""A small MobileNet v1 (Howard et al. 2017) with the ``alpha`` width multiplier.

A standard 3x3 convolution, then depthwise-separable blocks (3x3 depthwise
conv, BatchNorm, ReLU6, 1x1 pointwise conv, BatchNorm, ReLU6), global average
pooling and a dense softmax. ImageNet MobileNet has 13 blocks and five
stride-2 stages for 224x224 inputs; five blocks with two stride-2 stages suit
the 8x8 to 32x32 images Compresso trains on CPU. ReLU6 is the paper's
activation, chosen for its robustness under low-precision arithmetic.
"""

from __future__ import annotations

import keras
from keras import layers

from compression.zoo import register_architecture

_STEM_FILTERS = 32
# (pointwise filters, depthwise stride) per block, as the first blocks of v1.
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1))


@register_architecture("mobilenet")
def build_mobilenet(
    input_shape: tuple[int, ...], num_classes: int, alpha: float = 1.0
) -> keras.Model:
    """Build the small MobileNet v1.

    Args:
        input_shape: one sample's shape (H, W, C).
        num_classes: width of the softmax output.
        alpha: width multiplier of the paper: every layer has
            ``round(alpha * filters)`` channels.

    Returns:
        A functional model named "mobilenet" with layers conv1, conv1_bn,
        conv1_relu, block{i}_dw / _dw_bn / _dw_relu / _pw / _pw_bn / _pw_relu,
        gap and fc.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be positive. Received: alpha={alpha}")
    inputs = keras.Input(shape=input_shape, name="input")
    x = _conv_bn_relu(inputs, _scaled(_STEM_FILTERS, alpha), 3, "conv1")
    for index, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _separable_block(x, _scaled(filters, alpha), stride, f"block{index}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs, name="mobilenet")


def _scaled(filters: int, alpha: float) -> int:
    return max(1, round(filters * alpha))


def _conv_bn_relu(x: object, filters: int, kernel: int, name: str) -> object:
    # No bias: the following BatchNorm's beta plays its role.
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def _separable_block(x: object, filters: int, stride: int, name: str) -> object:
    x = layers.DepthwiseConv2D(
        3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    return _conv_bn_relu(x, filters, 1, f"{name}_pw")
