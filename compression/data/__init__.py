"""Dataset loaders: bundled digits (offline default), keras.datasets, user .npz."""

from compression.data.base import Dataset
from compression.data.digits import load_digits

__all__ = ["Dataset", "load_digits"]
