"""The 13-layer AlexNet of AdaDeep (seed 004, section 5.2.1), scaled to small inputs.

input, conv1, pool1, conv2, pool2, conv3, conv4, conv5, pool3, fc1, fc2, fc3,
output. Filter counts are AlexNet's (96, 256, 384, 384, 256; fc 4096) divided
by 8 at ``width=1.0`` so it trains in seconds on digits; kernels shrink from
11/5/3 to 5/5/3 and pools use 'same' padding so an 8x8 input still works.
"""

from __future__ import annotations

import keras
from keras import layers

from compression.zoo import register_architecture

_FILTERS = (12, 32, 48, 48, 32)
_FC_UNITS = 512


@register_architecture("alexnet")
def build_alexnet(
    input_shape: tuple[int, ...], num_classes: int, width: float = 1.0
) -> keras.Model:
    """Build AlexNet-13; ``width`` scales every filter and unit count."""
    if width <= 0:
        raise ValueError(f"width must be positive. Received: width={width}")
    f = [max(1, round(n * width)) for n in _FILTERS]
    units = max(1, round(_FC_UNITS * width))
    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(f[0], 5, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, padding="same", name="pool1")(x)
    x = layers.Conv2D(f[1], 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, padding="same", name="pool2")(x)
    x = layers.Conv2D(f[2], 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(f[3], 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2D(f[4], 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.MaxPooling2D(2, padding="same", name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(units, activation="relu", name="fc1")(x)
    x = layers.Dense(units, activation="relu", name="fc2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc3")(x)
    return keras.Model(inputs, outputs, name="alexnet")
