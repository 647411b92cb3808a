"""scikit-learn's bundled 8x8 digits: the offline default dataset."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.model_selection import train_test_split

from compression.data.base import Dataset


def load_digits(seed: int = 0, resize_to: int | None = None) -> Dataset:
    """Load the 1,797 bundled digits, split 60/20/20 (stratified, seeded).

    Args:
        seed: split seed; the same seed always gives the same split.
        resize_to: optional side length (for example 28 for LeNet's MNIST
            geometry); images are resized bilinearly.

    Returns:
        A ``Dataset`` of (N, side, side, 1) float32 images in [0, 1].
    """
    bunch = _sk_load_digits()
    # Pixel values are 0..16 in the bundled data.
    x = (bunch.images.astype("float32") / 16.0)[..., np.newaxis]
    y = bunch.target.astype("int64")
    if resize_to is not None:
        x = _resize(x, resize_to)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=seed, stratify=y
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
    )
    name = "digits" if resize_to is None else f"digits{resize_to}"
    return Dataset(name, x_train, y_train, x_val, y_val, x_test, y_test, 10)


def _resize(x: np.ndarray, side: int) -> np.ndarray:
    if side < 1:
        raise ValueError(f"resize_to must be a positive side length. Received: resize_to={side}")
    import tensorflow as tf

    return tf.image.resize(x, (side, side), method="bilinear").numpy().astype("float32")
