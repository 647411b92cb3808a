"""W3: magnitude pruning (Han et al. 2015), one-shot or gradual (Zhu & Gupta 2017).

With a threshold, every kernel weight whose magnitude is below it is zeroed
(AdaDeep 5.2.1 uses 0.001). With a target sparsity s, each target kernel loses
its round(s * size) smallest-magnitude weights: one-shot when there is no data,
otherwise gradually during fine-tuning along Zhu & Gupta's cubic schedule,
recomputing the magnitude mask at every pruning step. Either way the pruned
weights are held at zero while fine-tuning and biases are never pruned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.kernel_targets import (
    ALL_KINDS,
    default_targets,
    hidden_dense,
    kernel_layers,
    named_targets,
)
from compression.surgery import copy_model, resolve_targets
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune, WeightMask

# With early stopping, the schedule spans at most this many epochs (the last
# of them at the final sparsity); fine-tuning then goes on until accuracy stops
# improving. A fixed budget (patience=None) spreads the schedule over all of it.
SCHEDULE_EPOCHS = 5
# About this many pruning steps over the schedule (Zhu & Gupta prune every
# dt = 100..1000 steps of long runs; our fine-tuning budgets are short).
PRUNING_EVENTS = 10
# Index of the kernel in the weights of Dense, Conv2D and DepthwiseConv2D ([kernel, bias]).
KERNEL = 0


def polynomial_sparsity(
    step: int, final: float, begin: int, end: int, initial: float = 0.0, power: int = 3
) -> float:
    """Sparsity at ``step`` on Zhu & Gupta's schedule (2017, eq. 1).

    s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3, with t0 = ``begin`` and
    t0 + n dt = ``end``; before ``begin`` it is s_i, after ``end`` it is s_f.

    Raises:
        ValueError: ``end`` is not after ``begin``.
    """
    if end <= begin:
        raise ValueError(f"end must be after begin. Received: begin={begin}, end={end}")
    progress = min(max((step - begin) / (end - begin), 0.0), 1.0)
    return final + (initial - final) * (1.0 - progress) ** power


def pruning_window(epochs: int, steps_per_epoch: int) -> tuple[int, int, int]:
    """(begin, end, frequency) of the schedule, in optimizer steps.

    Pruning starts at step 0 and ends before the last epoch, so that epoch
    recovers at the final sparsity; a single epoch prunes during its first half.
    """
    total = epochs * steps_per_epoch
    end = max(1, total - steps_per_epoch if epochs > 1 else total // 2)
    return 0, end, max(1, end // PRUNING_EVENTS)


def magnitude_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask of ``weights``' shape zeroing its round(sparsity * size) smallest magnitudes."""
    flat = np.abs(np.asarray(weights)).ravel()
    mask = np.ones(flat.size, dtype="float32")
    # Ranking, not a threshold, so ties cannot overshoot the asked sparsity.
    mask[np.argsort(flat, kind="stable")[: int(round(sparsity * flat.size))]] = 0.0
    return mask.reshape(np.shape(weights))


class GradualPruning(WeightMask):
    """Raises the kernels' sparsity along the cubic schedule while training.

    Every ``frequency`` steps up to the schedule's end the magnitude mask of
    each layer is recomputed at the scheduled sparsity; in between, and after
    the end, the current masks hold the pruned weights at zero.

    Args:
        layer_names: the layers whose kernels are pruned.
        final: the target sparsity s_f.
        epochs: epochs the schedule spans; ``None`` means the whole training.

    Attributes:
        events: (step, sparsity) of every pruning step taken, for inspection.
    """

    def __init__(self, layer_names: Sequence[str], final: float, epochs: int | None = None) -> None:
        super().__init__({})
        self.layer_names = list(layer_names)
        self.final = final
        self.epochs = epochs
        self.events: list[tuple[int, float]] = []
        self.step = 0

    def prune(self, sparsity: float) -> None:
        """Recompute every mask at ``sparsity`` and apply it."""
        self.masks = {
            name: {
                KERNEL: magnitude_mask(self.model.get_layer(name).get_weights()[KERNEL], sparsity)
            }
            for name in self.layer_names
        }
        self.events.append((self.step, sparsity))
        self.apply_masks(self.model)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.step, self.events = 0, []
        steps = self.params.get("steps")
        if not steps:  # unknown epoch length: no schedule, prune to the target at once
            self.begin, self.end, self.frequency = 0, 0, 1
            self.prune(self.final)
            return
        epochs = min(self.epochs or self.params["epochs"], self.params["epochs"])
        self.begin, self.end, self.frequency = pruning_window(epochs, steps)
        self.prune(polynomial_sparsity(0, self.final, self.begin, self.end))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step += 1
        due = (self.step - self.begin) % self.frequency == 0 or self.step == self.end
        if self.step <= self.end and due:
            self.prune(polynomial_sparsity(self.step, self.final, self.begin, self.end))
        else:
            self.apply_masks(self.model)

    def on_train_end(self, logs: dict | None = None) -> None:
        # Training cut short of the schedule's end still leaves the target sparsity.
        if self.events[-1][1] < self.final:
            self.prune(self.final)


@register
class W3(Technique):
    """Magnitude pruning of kernels, by threshold or to a target sparsity."""

    code = "W3"
    # Seed 003 (tables 5 and 6, figures 3 and 4) sweeps target sparsity 0.2 to 0.8.
    sweep = ({}, {"s": 0.2}, {"s": 0.4}, {"s": 0.6}, {"s": 0.8})
    name = "Magnitude pruning"
    acts_on = (
        "Dense kernels by default (every Dense when the classifier is the only one); Conv2D "
        "and DepthwiseConv2D with include_conv=True"
    )
    category = "pruning"
    # The selector's slot (AdaDeep prunes dense layers); the kernels it acts on are wider.
    applies_to = "fc"
    description = (
        "Zeroes the smallest-magnitude kernel weights of the target Dense, Conv2D and "
        "DepthwiseConv2D layers (by default the hidden Dense layers; on a network whose only "
        "Dense layer is the classifier, every such layer, as TFMOT's prune_low_magnitude; "
        "include_conv=True adds every convolution, False keeps to Dense): every weight "
        "below a threshold "
        "(0.001 by default, as in AdaDeep), or, given a target sparsity s, the s fraction "
        "of smallest weights of each kernel, reached gradually while fine-tuning on Zhu "
        "and Gupta's cubic schedule (one-shot without data). Pruned weights are held at "
        "zero while fine-tuning; biases are kept. The layer shapes do not change; the "
        "saving comes from storing the kernels sparsely."
    )
    reference = (
        "Han, Pool, Tran, Dally. Learning both Weights and Connections for Efficient "
        "Neural Networks. NeurIPS 2015; Zhu, Gupta. To prune, or not to prune. "
        "arXiv:1710.01878, 2017; Liu et al. AdaDeep, IEEE TMC 2020, section 5.2.1."
    )
    param_names = ("threshold", "s", "include_conv")

    def __init__(
        self, threshold: float = 0.001, s: float | None = None, include_conv: bool | None = None
    ) -> None:
        if not _positive_number(threshold):
            raise ValueError(
                f"threshold must be a positive number. Received: threshold={threshold!r}"
            )
        if s is not None and not (_positive_number(s) and s < 1):
            raise ValueError(f"s must be a sparsity strictly between 0 and 1. Received: s={s!r}")
        if include_conv is not None and not isinstance(include_conv, bool):
            raise ValueError(
                f"include_conv must be True, False or None. Received: include_conv={include_conv!r}"
            )
        self.threshold = float(threshold)
        self.s = None if s is None else float(s)
        self.include_conv = include_conv

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Prune the target kernels of a copy of ``model``.

        Args:
            model: the model to compress; it is not modified.
            targets: Dense, Conv2D or DepthwiseConv2D layer names (Dense only
                with ``include_conv=False``); ``None`` means every Dense layer but
                the output, plus every convolution with ``include_conv=True``, or,
                by default on a model whose only Dense layer is the output, every
                Dense, Conv2D and DepthwiseConv2D layer.
            data: when given, the model is fine-tuned with the pruned weights
                held at zero (and, with ``s``, pruned gradually meanwhile).
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

        Returns:
            A new model of the same architecture with sparse target kernels.
        """
        pruned = copy_model(model)
        layers = self._targets(pruned, targets)
        budget = fine_tune or FineTune()
        if self.s is not None and data is not None and budget.epochs > 0:
            spans = budget.epochs if budget.patience is None else SCHEDULE_EPOCHS
            spans = min(spans, budget.epochs)
            gradual = GradualPruning([la.name for la in layers], self.s, spans)
            # Early stopping counts from the schedule's last epoch, at the final sparsity.
            training.fine_tune(pruned, data, budget, [gradual], settle_epochs=spans - 1)
            # Later steps of a plan keep the final pattern.
            training.attach(pruned, WeightMask.from_masks(gradual.masks))
            return pruned
        masks = {la.name: {KERNEL: self._mask(la.get_weights()[KERNEL])} for la in layers}
        holder = WeightMask(masks)
        holder.apply_masks(pruned)
        training.attach(pruned, holder)
        if data is not None:
            training.fine_tune(pruned, data, budget)
        return pruned

    def _mask(self, kernel: np.ndarray) -> np.ndarray:
        if self.s is not None:
            return magnitude_mask(kernel, self.s)
        return (np.abs(kernel) >= self.threshold).astype("float32")

    def _targets(
        self, model: keras.Model, targets: Sequence[str] | None
    ) -> list[keras.layers.Layer]:
        """Target layers: Dense only with include_conv=False, any kernel otherwise."""
        if self.include_conv is False:
            return resolve_targets(model, targets, "fc", self.code)
        if targets:
            return named_targets(model, targets, ALL_KINDS, self.code)
        if self.include_conv is None:
            return default_targets(model, ALL_KINDS, self.code)
        dense = {la.name for la in hidden_dense(model)}
        convs = {la.name for la in kernel_layers(model, ("Conv2D", "DepthwiseConv2D"))}
        chosen = [la for la in model.layers if la.name in dense | convs]
        if not chosen:
            raise NotApplicableError(
                f"{self.code} needs a convolution or a Dense layer besides the output layer "
                f"and model {model.name!r} has none."
            )
        return chosen


def _positive_number(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, Real)
        and math.isfinite(value)
        and value > 0
    )
