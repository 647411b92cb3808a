"""Ready-made ``.tflite`` files for the tests, as a user's own toolchain would export them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from compression.data import Dataset


def channels_first_tflite(digits: Dataset, epochs: int = 8) -> bytes:
    """A small CNN trained on ``digits`` taking (1, 8, 8) samples: NCHW, as PyTorch exports do.

    Built in Keras (a Permute moves the channels last inside the model), so no torch
    is needed; its input is what a channels-first toolchain would give LiteRT.
    """
    import keras

    from compression.export import to_tflite
    from compression.training import FineTune, fine_tune

    keras.utils.set_random_seed(0)
    inputs = keras.Input((digits.input_shape[-1], *digits.input_shape[:-1]))
    hidden = keras.layers.Conv2D(8, 3, activation="relu")(keras.layers.Permute((2, 3, 1))(inputs))
    outputs = keras.layers.Dense(digits.num_classes, activation="softmax")(
        keras.layers.Flatten()(hidden)
    )
    model = keras.Model(inputs, outputs)
    nchw = replace(
        digits,
        x_train=np.transpose(digits.x_train, (0, 3, 1, 2)),
        x_val=np.transpose(digits.x_val, (0, 3, 1, 2)),
    )
    fine_tune(model, nchw, FineTune(epochs=epochs, learning_rate=3e-3, patience=None))
    return to_tflite(model, "float32")
