"""LeNet-5 (LeCun et al. 1998) with 'same' padding so tiny inputs survive."""

from __future__ import annotations

import keras
from keras import layers

from compression.zoo import register_architecture


@register_architecture("lenet")
def build_lenet(input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """conv1 6@5x5, pool1, conv2 16@5x5, pool2, fc1 120, fc2 84, fc3 classes."""
    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, padding="same", name="pool1")(x)
    x = layers.Conv2D(16, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, padding="same", name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation="relu", name="fc1")(x)
    x = layers.Dense(84, activation="relu", name="fc2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc3")(x)
    return keras.Model(inputs, outputs, name="lenet")
