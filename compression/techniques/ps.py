"""Ps: structured filter pruning (Li, Kadav, Durdanovic, Samet, Graf 2017).

Each target convolution keeps the filters with the largest L1 norms and really
loses the others: the layer gets fewer filters, and the layers downstream that
read its channels shrink to match (the next convolution's input channels, a
batch normalization's entries, the rows of a dense kernel after a Flatten or a
global pooling). The result is a smaller dense model, fast on any runtime.
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
from compression.surgery import as_functional, layers_of_kind, rebuild, resolve_targets
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune

L = keras.layers
# Layers that act on each channel separately, so channel c in is channel c out.
CHANNEL_WISE = (
    L.MaxPooling2D,
    L.AveragePooling2D,
    L.Activation,
    L.ReLU,
    L.LeakyReLU,
    L.ELU,
    L.Dropout,
    L.SpatialDropout2D,
    L.GaussianNoise,
    L.GaussianDropout,
    L.ZeroPadding2D,
    L.Cropping2D,
    L.UpSampling2D,
)
# Layers that turn the channels into a feature vector a dense layer reads.
TO_FEATURES = (L.Flatten, L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)
# Layers that act on each feature separately.
FEATURE_WISE = (L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.Dropout, L.GaussianNoise)


def strongest_filters(kernel: np.ndarray, fraction: float) -> np.ndarray:
    """Sorted indices of the filters kept: all but floor(fraction * m), by largest L1 norm.

    Args:
        kernel: a (kh, kw, Cin, m) convolution kernel.
        fraction: share of the m filters to remove; at least one filter stays.
    """
    m = kernel.shape[-1]
    # The small epsilon keeps float products such as 0.7 * 10 from rounding down.
    keep = max(1, m - math.floor(fraction * m + 1e-9))
    norms = np.abs(kernel).sum(axis=(0, 1, 2))
    return np.sort(np.argsort(-norms, kind="stable")[:keep])


def consumer_map(model: keras.Model) -> dict[str, list[keras.Operation]]:
    """Layer name -> the operations of ``model`` that take that layer's output."""
    consumers: dict[str, list[keras.Operation]] = {la.name: [] for la in model.layers}
    # Keras has no public consumer lookup; _nodes_by_depth holds exactly this
    # model's calls (a layer reused in another model has nodes outside it).
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation.name
                consumers.setdefault(producer, []).append(node.operation)
    return consumers


class _Graph:
    """Follows a convolution's channels downstream to the layers that read them."""

    def __init__(self, model: keras.Model, code: str) -> None:
        self.consumers = consumer_map(model)
        self.outputs = {t._keras_history.operation.name for t in model.outputs}
        self.code = code

    def follow(self, conv: keras.layers.Layer) -> tuple[list, keras.layers.Layer, object]:
        """(batch norms on the way, the layer whose input shrinks, the to-features layer or None).

        Raises:
            NotApplicableError: the channels branch, merge, reach an output or
                a layer whose channel handling is unknown.
        """
        if conv.groups != 1 or conv.data_format != "channels_last":
            self._refuse(conv, conv, "grouped or channels-first convolutions are not handled")
        norms, features, current = [], None, conv
        while True:
            after = self._only_consumer(conv, current)
            if getattr(after, "data_format", "channels_last") != "channels_last":
                self._refuse(conv, after, "it is channels-first")
            if features is None and type(after) is L.Conv2D and after.groups == 1:
                return norms, after, None
            if isinstance(after, L.Dense):
                return norms, after, features
            if features is None and isinstance(after, L.BatchNormalization):
                if after.axis not in (-1, 3):
                    self._refuse(conv, after, "it normalizes another axis than channels")
                norms.append(after)
            elif features is None and isinstance(after, TO_FEATURES):
                features = after
            elif not isinstance(after, FEATURE_WISE if features else CHANNEL_WISE):
                self._refuse(conv, after, "Ps cannot tell which of its inputs are which channels")
            current = after

    def _only_consumer(self, conv: keras.layers.Layer, layer: keras.Operation) -> keras.Operation:
        readers = self.consumers.get(layer.name, [])
        if layer.name in self.outputs or len(readers) != 1:
            where = "is a model output" if layer.name in self.outputs else f"feeds {len(readers)}"
            self._refuse(conv, layer, f"its output {where} layers; Ps follows single chains")
        return readers[0]

    def _refuse(self, conv: keras.layers.Layer, layer: keras.Operation, why: str) -> None:
        raise NotApplicableError(
            f"{self.code} cannot remove filters of {conv.name!r}: its channels reach layer "
            f"{layer.name!r} ({type(layer).__name__}) and {why}."
        )


def feature_rows(features: object, kept: np.ndarray) -> np.ndarray:
    """Rows of the next dense kernel that read the kept channels.

    A Flatten of (H, W, C) puts channel c of position (h, w) at row
    h*W*C + w*C + c; a global pooling puts channel c at row c.
    """
    if not isinstance(features, L.Flatten):
        return kept
    _, height, width, channels = features.input.shape
    positions = np.arange(height * width)[:, np.newaxis]
    return (positions * channels + kept[np.newaxis, :]).ravel()


def shrink_layer(
    layer: keras.layers.Layer, x: object, kept_in: np.ndarray | None, kept_out: np.ndarray | None
) -> object:
    """A copy of ``layer`` on ``x`` keeping inputs ``kept_in`` and filters ``kept_out``."""
    config = layer.get_config()
    weights = layer.get_weights()
    if isinstance(layer, L.BatchNormalization):
        weights = [w[kept_in] for w in weights]  # gamma, beta, mean, variance per channel
    else:
        kernel, *bias = weights
        if kept_in is not None:  # Dense kernel rows, Conv2D input channels: axis -2
            kernel = np.take(kernel, kept_in, axis=-2)
        if kept_out is not None:
            kernel, bias = kernel[..., kept_out], [b[kept_out] for b in bias]
            config["filters"] = len(kept_out)
        weights = [kernel, *bias]
    new = type(layer).from_config(config)
    out = new(x)
    new.set_weights(weights)
    return out


@register
class Ps(Technique):
    """Structured pruning that removes whole convolution filters."""

    code = "Ps"
    name = "Filter pruning"
    category = "pruning"
    applies_to = "conv"
    description = (
        "Removes whole filters from each target convolution: it keeps those with the "
        "largest L1 norm (all but a fraction of them, at least one) and shrinks what reads "
        "their channels, the next convolution's input channels, batch-normalization "
        "entries, or the matching rows of a dense kernel after a Flatten or global "
        "pooling, then fine-tunes. The model gets really smaller and faster on any "
        "runtime, with no sparse format needed. Branching graphs are not handled."
    )
    reference = (
        "Li, Kadav, Durdanovic, Samet, Graf. Pruning Filters for Efficient ConvNets. ICLR 2017."
    )
    param_names = ("fraction",)

    def __init__(self, fraction: float = 0.5) -> None:
        if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction < 1:
            raise ValueError(
                "fraction must be a number strictly between 0 and 1. "
                f"Received: fraction={fraction!r}"
            )
        self.fraction = float(fraction)

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Remove the weakest filters of the target convolutions in a copy of ``model``.

        Args:
            model: the model to compress; it is not modified.
            targets: Conv2D layer names; ``None`` means every Conv2D whose
                channels Ps can follow to the layers reading them.
            data: when given, the pruned model is fine-tuned on it.
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

        Returns:
            A new model with the same layer names and fewer filters.
        """
        source = as_functional(model)
        graph = _Graph(source, self.code)
        kept_in: dict[str, np.ndarray] = {}
        kept_out: dict[str, np.ndarray] = {}
        for conv in self._targets(source, targets, graph):
            kept = kept_out[conv.name] = strongest_filters(conv.get_weights()[0], self.fraction)
            norms, reader, features = graph.follow(conv)
            for norm in norms:
                kept_in[norm.name] = kept
            kept_in[reader.name] = feature_rows(features, kept)
        pruned = rebuild(
            source,
            {
                name: lambda la, x: shrink_layer(la, x, kept_in.get(la.name), kept_out.get(la.name))
                for name in {*kept_in, *kept_out}
            },
        )
        if data is not None:
            training.fine_tune(pruned, data, fine_tune or FineTune())
        return pruned

    def _targets(
        self, model: keras.Model, targets: Sequence[str] | None, graph: _Graph
    ) -> list[keras.layers.Layer]:
        if targets or not layers_of_kind(model, "conv"):
            return resolve_targets(model, targets, "conv", self.code)
        chosen, reasons = [], []
        for conv in layers_of_kind(model, "conv"):
            try:
                graph.follow(conv)
                chosen.append(conv)
            except NotApplicableError as error:
                reasons.append(str(error))
        if not chosen:
            raise NotApplicableError(
                f"{self.code} found no Conv2D layer whose filters it can remove. {reasons[0]}"
            )
        return chosen
