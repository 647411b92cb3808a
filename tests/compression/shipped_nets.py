"""A small network built from the blocks of the networks people ship, and its data.

``shipped_net`` holds, at a size that trains in seconds, what MobileNetV2,
ResNet50 and EfficientNetB0 are made of: Rescaling and Normalization at the
input, ZeroPadding2D before a strided stem, BatchNormalization after every
convolution, ReLU6, a depthwise convolution with swish, a squeeze-excite block
(global pooling, Reshape, 1x1 convs with swish and sigmoid, Multiply), a
projection, a residual Add, a hard-swish Concatenate, pooling, Dropout and a
single Dense classifier after global average pooling.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from compression.data import Dataset, load_digits

L = keras.layers
SIDE = 16


def rgb_digits(side: int = SIDE) -> Dataset:
    """The bundled digits at ``side`` x ``side`` with three (equal) colour channels."""
    data = load_digits(seed=0, resize_to=side)
    return dataclasses.replace(
        data,
        x_train=np.repeat(data.x_train, 3, axis=-1),
        x_val=np.repeat(data.x_val, 3, axis=-1),
        x_test=np.repeat(data.x_test, 3, axis=-1),
    )


def shipped_net(classes: int = 10, width: int = 16) -> keras.Model:
    """An inverted-residual network with squeeze-excite; see the module docstring."""
    inputs = keras.Input((SIDE, SIDE, 3), name="image")
    x = L.Rescaling(2.0, offset=-1.0, name="rescale")(inputs)
    x = L.Normalization(mean=[-0.5, -0.6, -0.7], variance=[0.25, 0.3, 0.35], name="norm")(x)
    x = L.ZeroPadding2D(1, name="stem_pad")(x)
    x = L.Conv2D(width, 3, strides=2, use_bias=False, name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    y = L.Conv2D(2 * width, 1, use_bias=False, name="expand")(x)
    y = L.BatchNormalization(name="expand_bn")(y)
    y = L.ReLU(6.0, name="expand_relu")(y)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(y)
    y = L.BatchNormalization(name="dw_bn")(y)
    y = L.Activation("swish", name="dw_swish")(y)
    s = L.GlobalAveragePooling2D(name="se_pool")(y)
    s = L.Reshape((1, 1, 2 * width), name="se_reshape")(s)
    s = L.Conv2D(width // 2, 1, activation="silu", name="se_reduce")(s)
    s = L.Conv2D(2 * width, 1, activation="sigmoid", name="se_expand")(s)
    y = L.Multiply(name="se_excite")([y, s])
    y = L.Conv2D(width, 1, use_bias=False, name="project")(y)
    y = L.BatchNormalization(name="project_bn")(y)
    x = L.Add(name="add")([x, y])
    x = L.Concatenate(name="concat")([x, L.Activation("hard_swish", name="hswish")(x)])
    x = L.MaxPooling2D(name="pool")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(0.1, name="drop")(x)
    outputs = L.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="shipped")


def trained_shipped_net(data: Dataset, epochs: int = 8) -> keras.Model:
    """``shipped_net`` trained on ``data`` (a few seconds)."""
    keras.utils.set_random_seed(0)
    model = shipped_net(data.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model


def accuracy(model: keras.Model, data: Dataset) -> float:
    """Top-1 accuracy on the test split."""
    predicted = model.predict(data.x_test, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == data.y_test))
