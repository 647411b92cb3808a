"""Fine-tuning shared by the techniques that retrain after compressing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from compression.data.base import Dataset


@dataclass(frozen=True)
class FineTune:
    """A bounded fine-tuning budget.

    Attributes:
        epochs: passes over the training split (0 skips fine-tuning).
        batch_size: samples per step.
        learning_rate: Adam's step size; small, since weights start trained.
        seed: seeds Keras, NumPy and the shuffling so runs repeat.
    """

    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.epochs <= 1000:
            raise ValueError(f"epochs must be in 0..1000. Received: epochs={self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive. Received: batch_size={self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate must be positive. Received: learning_rate={self.learning_rate}"
            )

    def get_config(self) -> dict[str, Any]:
        """Parameters as a dict."""
        return asdict(self)


def compile_for_classification(model: keras.Model, learning_rate: float = 1e-3) -> None:
    """Compile with Adam and sparse categorical cross-entropy on softmax outputs."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def fine_tune(
    model: keras.Model,
    data: Dataset,
    budget: FineTune,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.Model:
    """Train ``model`` in place on the training split for the budget's epochs.

    Args:
        model: a model whose output is a softmax over ``data.num_classes``.
        data: the dataset; only the train and validation splits are used.
        budget: epochs, batch size, learning rate and seed.
        callbacks: extra callbacks (for example a ``WeightMask``).

    Returns:
        The same model, trained.
    """
    if budget.epochs == 0:
        return model
    keras.utils.set_random_seed(budget.seed)
    compile_for_classification(model, budget.learning_rate)
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        shuffle=True,
        callbacks=list(callbacks),
        verbose=0,
    )
    return model


class WeightMask(keras.callbacks.Callback):
    """Holds chosen weights at zero while training (pruning, sparse kernels).

    The mask is re-applied after every optimizer step, so every forward pass
    and the final weights see exactly the masked pattern; no custom layer or
    constraint ends up in the saved model.

    Args:
        masks: layer name -> {weight index in ``layer.weights``: 0/1 array}.
    """

    def __init__(self, masks: Mapping[str, Mapping[int, np.ndarray]]) -> None:
        super().__init__()
        self.masks = masks

    def apply_masks(self, model: keras.Model) -> None:
        """Multiply each masked weight by its mask."""
        for layer_name, by_index in self.masks.items():
            weights = model.get_layer(layer_name).weights
            for index, mask in by_index.items():
                variable = weights[index]
                variable.assign(keras.ops.convert_to_numpy(variable) * mask)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.apply_masks(self.model)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.apply_masks(self.model)
