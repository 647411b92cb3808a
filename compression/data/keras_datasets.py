"""The classic ``keras.datasets`` image sets, online or from a local copy.

Online, ``keras.datasets.<name>.load_data()`` downloads (or reuses the copy
cached in ``~/.keras/datasets``). Offline, ``path`` names a local ``.npz``
with ``x_train``, ``y_train``, ``x_test`` and ``y_test``: exactly the layout
of Keras's cached ``mnist.npz``, and the same four arrays for the others.
With a path nothing is downloaded, whatever the file holds.
"""

from __future__ import annotations

from pathlib import Path

import keras

from compression.data.base import Dataset
from compression.data.npz import dataset_from_arrays, read_npz
from compression.errors import DatasetError

# Name -> number of classes of each dataset keras.datasets ships.
KERAS_DATASETS: dict[str, int] = {
    "mnist": 10,
    "fashion_mnist": 10,
    "cifar10": 10,
    "cifar100": 100,
}


def load_keras_dataset(
    name: str, path: str | Path | None = None, val_fraction: float = 0.1, seed: int = 0
) -> Dataset:
    """Load MNIST, Fashion-MNIST, CIFAR-10 or CIFAR-100.

    Args:
        name: one of ``KERAS_DATASETS``.
        path: a local ``.npz`` copy; when given nothing is downloaded.
        val_fraction: share of the training set held out for validation.
        seed: seed of the validation split.

    Returns:
        A ``Dataset`` of float32 images in [0, 1] with a channel axis
        (grayscale sets get one) and int64 labels.

    Raises:
        DatasetError: unknown name, unusable file, or download impossible.
    """
    if name not in KERAS_DATASETS:
        raise DatasetError(
            f"Unknown Keras dataset. Known: {', '.join(KERAS_DATASETS)}. Received: name={name!r}"
        )
    arrays = read_npz(path) if path is not None else _download(name)
    return dataset_from_arrays(name, arrays, val_fraction, seed, KERAS_DATASETS[name])


def _download(name: str) -> dict[str, object]:
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # keras.utils.get_file raises a bare Exception offline
        raise DatasetError(
            f"Could not download keras.datasets.{name} ({exc}). Offline, pass path= to a "
            "local .npz holding x_train, y_train, x_test and y_test."
        ) from exc
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
