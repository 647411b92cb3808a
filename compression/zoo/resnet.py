"""A small ResNet (He et al. 2016), the CIFAR-style 6n+2 family.

A 3x3 stem convolution with BatchNorm and ReLU, three stages of basic
residual blocks (two 3x3 convolutions with BatchNorm) with 16, 32 and 64
filters, the second and third stages opening with stride 2, global average
pooling and a dense softmax. When a block changes stride or width its
shortcut is a 1x1 projection with BatchNorm (the paper's option B);
otherwise it is the identity. ``blocks=1`` gives ResNet-8, ``blocks=3`` the
paper's ResNet-20.
"""

from __future__ import annotations

import keras
from keras import layers

from compression.zoo import register_architecture

_STAGE_FILTERS = (16, 32, 64)


@register_architecture("resnet")
def build_resnet(
    input_shape: tuple[int, ...], num_classes: int, blocks: int = 1, width: float = 1.0
) -> keras.Model:
    """Build the small ResNet.

    Args:
        input_shape: one sample's shape (H, W, C).
        num_classes: width of the softmax output.
        blocks: basic blocks per stage (depth = 6 * blocks + 2).
        width: scales every filter count.

    Returns:
        A functional model named "resnet" with layers stem_conv, stem_bn,
        stem_relu, stage{s}_block{b}_{conv1,bn1,relu1,conv2,bn2,add,out}
        (plus _proj and _proj_bn on projection shortcuts), gap and fc.
    """
    if not 1 <= blocks <= 20:
        raise ValueError(f"blocks must be in 1..20. Received: blocks={blocks}")
    if not width > 0:
        raise ValueError(f"width must be positive. Received: width={width}")
    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(
        max(1, round(_STAGE_FILTERS[0] * width)),
        3,
        padding="same",
        use_bias=False,
        name="stem_conv",
    )(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, filters in enumerate(_STAGE_FILTERS, start=1):
        for block in range(1, blocks + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            name = f"stage{stage}_block{block}"
            x = _basic_block(x, max(1, round(filters * width)), stride, name)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs, name="resnet")


def _basic_block(x: object, filters: int, stride: int, name: str) -> object:
    shortcut = x
    y = layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1"
    )(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)
