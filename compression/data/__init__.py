"""Dataset loaders: bundled digits (offline default), keras.datasets, user .npz."""

from compression.data.base import Dataset
from compression.data.digits import load_digits
from compression.data.keras_datasets import load_keras_dataset
from compression.data.npz import load_npz
from compression.data.registry import load_dataset

__all__ = ["Dataset", "load_dataset", "load_digits", "load_keras_dataset", "load_npz"]
