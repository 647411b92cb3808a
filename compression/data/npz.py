"""User datasets stored as a NumPy ``.npz`` archive, checked before use.

The archive holds four arrays: ``x_train``, ``y_train``, ``x_test`` and
``y_test`` (the layout of Keras's own ``mnist.npz``). Images are (N, H, W) or
(N, H, W, C); labels are class indices of shape (N,) or (N, 1). Every problem
raises ``DatasetError`` with a message that names the array at fault.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from compression.data.base import Dataset
from compression.errors import DatasetError

REQUIRED_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def load_npz(
    path: str | Path,
    name: str | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    num_classes: int | None = None,
) -> Dataset:
    """Load and validate a user's ``.npz`` dataset.

    Args:
        path: the ``.npz`` file.
        name: dataset name; defaults to the file name without extension.
        val_fraction: share of the training arrays held out for validation.
        seed: seed of the validation split.
        num_classes: number of classes; inferred as the largest label + 1
            when not given.

    Returns:
        A ``Dataset`` of float32 images in [0, 1] for uint8 input (float
        input is kept as stored) and int64 labels.

    Raises:
        DatasetError: missing or unreadable file, missing arrays, or arrays
            that do not form a classification dataset.
    """
    arrays = read_npz(path)
    return dataset_from_arrays(name or Path(path).stem, arrays, val_fraction, seed, num_classes)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read the four required arrays of an ``.npz`` file, without pickles.

    Raises:
        DatasetError: the file is missing, is not an ``.npz`` archive, lacks
            a required array, or stores Python objects.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"Dataset file not found: {path}")
    try:
        # allow_pickle=False: an uploaded file must never run code when read.
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path.name} is not a NumPy .npz archive: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(
            f"{path.name} holds a single array (.npy); expected an .npz archive with "
            f"{', '.join(REQUIRED_ARRAYS)}."
        )
    with archive:
        missing = [key for key in REQUIRED_ARRAYS if key not in archive.files]
        if missing:
            raise DatasetError(
                f"{path.name} lacks the arrays {', '.join(missing)}; it holds "
                f"{', '.join(archive.files) or 'no arrays'}."
            )
        arrays = {}
        for key in REQUIRED_ARRAYS:
            try:
                arrays[key] = archive[key]
            except (ValueError, OSError, zipfile.BadZipFile) as exc:
                raise DatasetError(f"{path.name}: array {key} cannot be read: {exc}") from None
    return arrays


def dataset_from_arrays(
    name: str,
    arrays: Mapping[str, np.ndarray],
    val_fraction: float = 0.1,
    seed: int = 0,
    num_classes: int | None = None,
) -> Dataset:
    """Check four arrays, scale the images and carve a seeded validation split.

    Raises:
        DatasetError: the arrays do not form a classification dataset.
        ValueError: ``val_fraction`` is not in (0, 1).
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1). Received: val_fraction={val_fraction}")
    x_train, x_test = _images(arrays["x_train"], "x_train"), _images(arrays["x_test"], "x_test")
    y_train, y_test = _labels(arrays["y_train"], "y_train"), _labels(arrays["y_test"], "y_test")
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) == 0 or len(y) == 0:
            raise DatasetError(f"The {split} split is empty: x_{split} and y_{split} need samples.")
        if len(x) != len(y):
            raise DatasetError(
                f"x_{split} has {len(x)} samples but y_{split} has {len(y)} labels; "
                "they must match."
            )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(
            f"x_train samples are {x_train.shape[1:]} but x_test samples are "
            f"{x_test.shape[1:]}; both splits need the same sample shape."
        )
    classes = _num_classes(y_train, y_test, num_classes)
    x_train, y_train, x_val, y_val = _split(x_train, y_train, val_fraction, seed)
    return Dataset(name, x_train, y_train, x_val, y_val, x_test, y_test, classes)


def _images(x: np.ndarray, key: str) -> np.ndarray:
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DatasetError(f"{key} must hold numbers; its dtype is {x.dtype}.")
    if x.ndim == 3:
        x = x[..., np.newaxis]  # grayscale (N, H, W) gets its channel axis
    if x.ndim != 4:
        raise DatasetError(
            f"{key} must be images of shape (N, H, W) or (N, H, W, C); its shape is {x.shape}."
        )
    if np.issubdtype(x.dtype, np.floating):
        if x.size and not np.isfinite(x).all():
            raise DatasetError(f"{key} contains NaN or infinite values.")
        return x.astype("float32")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise DatasetError(
            f"{key} holds integers outside 0..255 ({x.min()}..{x.max()}); integer images "
            "must be 8-bit pixels, or store floats."
        )
    return (x / 255.0).astype("float32")  # 8-bit pixels to [0, 1]


def _labels(y: np.ndarray, key: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(
            f"{key} must be class indices of shape (N,) or (N, 1); its shape is {y.shape} "
            "(one-hot labels need argmax first)."
        )
    if np.issubdtype(y.dtype, np.floating):
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            raise DatasetError(f"{key} must hold integer class indices; found {y[~whole][0]}.")
    elif not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{key} must hold integer class indices; its dtype is {y.dtype}.")
    if y.size and y.min() < 0:
        raise DatasetError(f"{key} has a label out of range: {y.min()} (labels start at 0).")
    return y.astype("int64")


def _num_classes(y_train: np.ndarray, y_test: np.ndarray, num_classes: int | None) -> int:
    largest = int(max(y_train.max(), y_test.max()))
    if num_classes is None:
        num_classes = largest + 1
    elif largest >= num_classes:
        key = "y_train" if y_train.max() == largest else "y_test"
        raise DatasetError(
            f"{key} has a label out of range: {largest} (this dataset has {num_classes} "
            f"classes, 0..{num_classes - 1})."
        )
    if num_classes < 2:
        raise DatasetError(f"A classifier needs at least 2 classes; the labels have {num_classes}.")
    return num_classes


def _split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_val = max(1, round(len(x) * val_fraction))
    if n_val >= len(x):
        raise DatasetError(
            f"x_train has {len(x)} samples: too few to hold out a validation split "
            f"(val_fraction={val_fraction})."
        )
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return x[train], y[train], x[val], y[val]
