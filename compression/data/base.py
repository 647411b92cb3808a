"""The in-memory dataset every technique, trainer and evaluator works on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Train / validation / test splits of an image classification task.

    Images are float32 in [0, 1] with a channel axis (N, H, W, C); labels are
    int64 class indices in [0, num_classes).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, without the batch axis."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def split_sizes(self) -> dict[str, int]:
        """Number of samples in each split."""
        return {
            "train": len(self.x_train),
            "val": len(self.x_val),
            "test": len(self.x_test),
        }

    def representative_sample(self, count: int = 200, seed: int = 0) -> np.ndarray:
        """A fixed random sample of training inputs, for int8 calibration.

        Args:
            count: how many samples at most.
            seed: seed of the sample, so calibration is reproducible.

        Returns:
            Array of shape (min(count, N), *input_shape).
        """
        rng = np.random.default_rng(seed)
        n = min(count, len(self.x_train))
        index = rng.choice(len(self.x_train), size=n, replace=False)
        return self.x_train[np.sort(index)]
