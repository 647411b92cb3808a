"""A small VGG (Simonyan & Zisserman 2015): stacked 3x3 convolutions and pools.

Three blocks of two 3x3 convolutions and a 2x2 'same' max-pool (16, 32, 64
filters at ``width=1.0``), then fc 128 and the softmax. VGG-16's 13 conv
layers and 4096-unit head are cut down so it trains on a CPU in seconds;
'same' padding everywhere keeps an 8x8 input alive through three pools
(8 -> 4 -> 2 -> 1).
"""

from __future__ import annotations

import keras
from keras import layers

from compression.zoo import register_architecture

_FILTERS = (16, 32, 64)
_FC_UNITS = 128


@register_architecture("vgg")
def build_vgg(input_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> keras.Model:
    """Build the small VGG.

    Args:
        input_shape: one sample's shape (H, W, C).
        num_classes: width of the softmax output.
        width: scales every filter and unit count (0.5 gives a half-width
            student for distillation).

    Returns:
        A functional model named "vgg" with layers block{b}_conv{1,2},
        block{b}_pool, flatten, fc1, fc2.
    """
    if not width > 0:
        raise ValueError(f"width must be positive. Received: width={width}")
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for block, filters in enumerate(_FILTERS, start=1):
        n = max(1, round(filters * width))
        for conv in (1, 2):
            x = layers.Conv2D(
                n, 3, padding="same", activation="relu", name=f"block{block}_conv{conv}"
            )(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(max(1, round(_FC_UNITS * width)), activation="relu", name="fc1")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc2")(x)
    return keras.Model(inputs, outputs, name="vgg")
