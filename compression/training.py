"""Fine-tuning shared by the techniques that retrain after compressing."""

from __future__ import annotations

import weakref
from collections.abc import Collection, Mapping, Sequence
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
    # Earlier compression steps' constraints (masks, shared centroids) hold too.
    callbacks = list(callbacks) + [c for c in constraints_of(model) if c not in callbacks]
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


class LayerConstraint(keras.callbacks.Callback):
    """A property of some layers' weights that every later training must keep.

    A technique attaches one to the model it returns (``attach``); ``fine_tune``
    enforces the constraints attached to the model it trains, and
    ``surgery.rebuild`` carries them to the new model for the layers that
    survive. So in ``C3@conv2 + W3@fc1``, W3's fine-tuning keeps C3's mask.
    """

    def enforce(self, model: keras.Model) -> None:
        """Make the model's weights satisfy the constraint."""
        raise NotImplementedError

    def restrict(self, model: keras.Model, dropped: Collection[str] = ()) -> LayerConstraint | None:
        """The same constraint limited to ``model``'s matching layers, or None if none match."""
        raise NotImplementedError

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.enforce(self.model)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.enforce(self.model)


# Model -> its constraints; weak keys, so a discarded model takes its entry with it.
_CONSTRAINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def attach(model: keras.Model, constraint: LayerConstraint) -> None:
    """Record that ``model``'s weights must keep satisfying ``constraint``."""
    _CONSTRAINTS.setdefault(model, []).append(constraint)


def constraints_of(model: keras.Model) -> list[LayerConstraint]:
    """The constraints attached to ``model`` (empty for a fresh model)."""
    return list(_CONSTRAINTS.get(model, ()))


def carry_constraints(
    source: keras.Model, target: keras.Model, dropped: Collection[str] = ()
) -> None:
    """Attach to ``target`` the constraints of ``source`` that still apply to it."""
    for constraint in constraints_of(source):
        kept = constraint.restrict(target, dropped)
        if kept is not None:
            attach(target, kept)


class WeightMask(LayerConstraint):
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

    def enforce(self, model: keras.Model) -> None:
        self.apply_masks(model)

    def restrict(self, model: keras.Model, dropped: Collection[str] = ()) -> WeightMask | None:
        layers = {layer.name: layer for layer in model.layers}
        kept: dict[str, dict[int, np.ndarray]] = {}
        for name, by_index in self.masks.items():
            if name in dropped or name not in layers:
                continue
            weights = layers[name].weights
            same = {
                i: mask
                for i, mask in by_index.items()
                if i < len(weights) and tuple(weights[i].shape) == mask.shape
            }
            if same:
                kept[name] = same
        return WeightMask.from_masks(kept) if kept else None

    @classmethod
    def from_masks(cls, masks: Mapping[str, Mapping[int, np.ndarray]]) -> WeightMask:
        """A plain, fixed mask holder (a schedule's final masks become fixed)."""
        return WeightMask({name: dict(by_index) for name, by_index in masks.items()})
