"""Fine-tuning shared by the techniques that retrain after compressing.

A compressed model is trained until its validation accuracy stops improving:
early stopping with ``patience`` epochs and the best epoch's weights restored,
the learning rate cut when the validation loss plateaus, and ``epochs`` as the
cap. A fixed number of epochs (the cap) is still available with ``patience=None``.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from compression.data.base import Dataset

# Moving-statistics momentum of BatchNormalization while training on small data:
# Keras' 0.99 (keras.applications: 0.999) suits ImageNet's many steps, not a few hundred.
FAST_BN_MOMENTUM = 0.9
# Epochs of a plateau in validation loss before the learning rate is cut, and by how much.
LR_PATIENCE = 1
LR_FACTOR = 0.3
# The learning rate is never cut below this fraction of the budget's.
MIN_LR_FRACTION = 0.01


@dataclass(frozen=True)
class FineTune:
    """A bounded fine-tuning budget.

    Attributes:
        epochs: the epoch cap: at most this many passes over the training
            split (0 skips fine-tuning).
        batch_size: samples per step.
        learning_rate: Adam's initial step size; small, since weights start
            trained. It is cut by ``LR_FACTOR`` whenever the validation loss
            has not improved for ``LR_PATIENCE`` epochs.
        seed: seeds Keras, NumPy and the shuffling so runs repeat.
        patience: stop after this many epochs without a better validation
            accuracy and restore the best epoch's weights; ``None`` trains
            for exactly ``epochs`` epochs at a constant learning rate.
    """

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    patience: int | None = 3

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int):
            raise ValueError(f"epochs must be an integer. Received: epochs={self.epochs!r}")
        if not 0 <= self.epochs <= 1000:
            raise ValueError(f"epochs must be in 0..1000. Received: epochs={self.epochs}")
        if self.patience is not None and (
            isinstance(self.patience, bool)
            or not isinstance(self.patience, int)
            or not 1 <= self.patience <= 1000
        ):
            raise ValueError(
                "patience must be None or an integer in 1..1000. "
                f"Received: patience={self.patience!r}"
            )
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
    settle_epochs: int = 0,
) -> keras.Model:
    """Train ``model`` in place until validation accuracy stops improving.

    Args:
        model: a model whose output is a softmax over ``data.num_classes``.
        data: the dataset; only the train and validation splits are used.
        budget: epoch cap, patience, batch size, learning rate and seed.
        callbacks: extra callbacks (for example a ``WeightMask``).
        settle_epochs: epochs during which the model is still changing by
            design (a pruning schedule): early stopping neither stops nor
            records a best epoch before them.

    Returns:
        The same model, trained; with a patience, it holds the weights of
        its best epoch by validation accuracy.
    """
    if budget.epochs == 0:
        return model
    # Earlier compression steps' constraints (masks, shared centroids) hold too.
    callbacks = list(callbacks) + [c for c in constraints_of(model) if c not in callbacks]
    # First, so the best weights are restored before a constraint's on_train_end runs.
    callbacks = recovery_callbacks(budget, settle_epochs) + callbacks
    keras.utils.set_random_seed(budget.seed)
    compile_for_classification(model, budget.learning_rate)
    # A compressed layer changes the activations its batch norms see: their moving
    # statistics must follow within the few hundred steps of a fine-tuning, which
    # Keras' 0.99 does not (Ps on ResNet-8 answered one class after 5 epochs).
    previous = set_batchnorm_momentum(model, FAST_BN_MOMENTUM)
    try:
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
    finally:
        for layer, momentum in previous.items():
            layer.momentum = momentum
    return model


def set_batchnorm_momentum(model: keras.Model, momentum: float) -> dict[keras.Layer, float]:
    """Set every BatchNormalization's momentum; returns each layer's previous one."""
    previous = {}
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            previous[layer] = layer.momentum
            layer.momentum = momentum
    return previous


def _all_layers(model: keras.Model) -> list[keras.Layer]:
    # Nested models (a backbone inside a model) hold layers of their own.
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(_all_layers(layer))
    return found


def recovery_callbacks(budget: FineTune, settle_epochs: int = 0) -> list[keras.callbacks.Callback]:
    """Early stopping on validation accuracy and a plateau learning-rate schedule.

    Empty for a fixed budget (``patience=None``).
    """
    if budget.patience is None:
        return []
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy",
            mode="max",
            patience=budget.patience,
            restore_best_weights=True,
            start_from_epoch=settle_epochs,
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            factor=LR_FACTOR,
            patience=LR_PATIENCE,
            min_lr=budget.learning_rate * MIN_LR_FRACTION,
        ),
    ]


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
