"""A small Inception v1 (GoogLeNet, Szegedy et al. 2015).

A 3x3 stem convolution, then two Inception modules separated by a 3x3
stride-2 max-pool, global average pooling and a dense softmax. Each module
runs four branches on the same input and concatenates them along channels:
1x1; 1x1 reduce -> 3x3; 1x1 reduce -> 5x5; 3x3 max-pool -> 1x1 projection.
Branch widths follow the ratios of GoogLeNet's inception (3a) and (3b),
divided by 4 so the network trains on a CPU.
"""

from __future__ import annotations

import keras
from keras import layers

from compression.zoo import register_architecture

_STEM_FILTERS = 32
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection) per module:
# GoogLeNet's (64, 96, 128, 16, 32, 32) and (128, 128, 192, 32, 96, 64) / 4.
_MODULES = ((16, 24, 32, 4, 8, 8), (32, 32, 48, 8, 24, 16))


@register_architecture("inception")
def build_inception(
    input_shape: tuple[int, ...], num_classes: int, width: float = 1.0
) -> keras.Model:
    """Build the small Inception v1.

    Args:
        input_shape: one sample's shape (H, W, C).
        num_classes: width of the softmax output.
        width: scales every branch's filter count.

    Returns:
        A functional model named "inception" with layers stem_conv,
        inc{i}_1x1, inc{i}_3x3_reduce, inc{i}_3x3, inc{i}_5x5_reduce,
        inc{i}_5x5, inc{i}_pool, inc{i}_pool_proj, inc{i}_concat, pool1,
        gap and fc.
    """
    if not width > 0:
        raise ValueError(f"width must be positive. Received: width={width}")
    inputs = keras.Input(shape=input_shape, name="input")
    stem = max(1, round(_STEM_FILTERS * width))
    x = layers.Conv2D(stem, 3, padding="same", activation="relu", name="stem_conv")(inputs)
    x = _module(x, [max(1, round(n * width)) for n in _MODULES[0]], "inc1")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = _module(x, [max(1, round(n * width)) for n in _MODULES[1]], "inc2")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs, name="inception")


def _conv(x: object, filters: int, kernel: int, name: str) -> object:
    return layers.Conv2D(filters, kernel, padding="same", activation="relu", name=name)(x)


def _module(x: object, widths: list[int], name: str) -> object:
    n1, r3, n3, r5, n5, proj = widths
    branch1 = _conv(x, n1, 1, f"{name}_1x1")
    branch3 = _conv(_conv(x, r3, 1, f"{name}_3x3_reduce"), n3, 3, f"{name}_3x3")
    branch5 = _conv(_conv(x, r5, 1, f"{name}_5x5_reduce"), n5, 5, f"{name}_5x5")
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = _conv(pooled, proj, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([branch1, branch3, branch5, branch_pool])
