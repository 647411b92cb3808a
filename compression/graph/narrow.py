"""Remove channel classes from a model: the surgery that follows the channel graph.

Given the classes to remove, every layer that makes, normalizes or reads
those channels is rebuilt with the matching slices of its weights: a
producer loses filters, a batch norm or depthwise conv loses entries, a
consumer loses kernel rows (after a Flatten, the rows of every position), a
squeeze-excite Reshape gets the new width. Weightless layers (activations,
adds, concatenations, poolings) need nothing: the narrower tensors flow
through them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import keras
import numpy as np

from compression.errors import NotApplicableError
from compression.graph import rules
from compression.graph.build import ChannelGraph
from compression.surgery import Replacement, rebuild


@dataclass(frozen=True)
class Slices:
    """Which channels of a layer survive.

    Attributes:
        kept_in: indices of the input channels kept (None: all of them).
        kept_out: indices of the output channels kept (None: all of them).
    """

    kept_in: np.ndarray | None
    kept_out: np.ndarray | None


# A builder makes the stand-in for one layer on the new input tensor.
Builder = Callable[[keras.layers.Layer, object, Slices], object]


def slices_for(graph: ChannelGraph, removed: Collection[int]) -> dict[str, Slices]:
    """The kept input and output channels of every layer that ``removed`` changes.

    Raises:
        NotApplicableError: a removed class is pinned (its reason is given).
    """
    removed = {int(c) for c in removed}
    for c in removed:
        if c in graph.pinned:
            raise NotApplicableError(f"Cannot remove channels that must stay: {graph.pinned[c]}.")
    found: dict[str, Slices] = {}
    for name, rule in graph.rules.items():
        if rule.kind not in (rules.PRODUCER, rules.CHANNELWISE, rules.RESHAPE):
            continue
        kept_in = _kept(graph.input_classes(name), removed)
        kept_out = _kept(graph.output_classes(name), removed)
        if rule.kind == rules.CHANNELWISE:
            kept_out = kept_in
        if kept_in is not None or kept_out is not None:
            found[name] = Slices(kept_in, kept_out)
    return found


def narrow(
    graph: ChannelGraph,
    removed: Collection[int],
    builders: Mapping[str, Builder] | None = None,
) -> keras.Model:
    """A copy of ``graph.model`` without the channel classes in ``removed``.

    Args:
        graph: the channel graph of the model.
        removed: channel classes to remove (from ``Group.classes``).
        builders: layer name -> a builder replacing that layer (given its
            slices, all-None when its channels do not change); every other
            changed layer is sliced by ``shrink``.

    Returns:
        A new functional model; the source model is not modified.
    """
    slices = slices_for(graph, removed)
    builders = dict(builders or {})
    replacements: dict[str, Replacement] = {}
    for name in {*slices, *builders}:
        build = builders.get(name, shrink)
        cut = slices.get(name, Slices(None, None))
        replacements[name] = _bind(build, cut)
    return rebuild(graph.model, replacements)


def _bind(build: Builder, cut: Slices) -> Replacement:
    return lambda layer, x: build(layer, x, cut)


def _kept(classes: np.ndarray | None, removed: set[int]) -> np.ndarray | None:
    if classes is None or not removed:
        return None
    keep = ~np.isin(classes, list(removed))
    return None if keep.all() else np.flatnonzero(keep)


def shrink(layer: keras.layers.Layer, x: object, cut: Slices) -> object:
    """A copy of ``layer`` called on ``x`` keeping only the channels of ``cut``."""
    config = layer.get_config()
    weights = layer.get_weights()
    if isinstance(layer, keras.layers.Reshape):
        config["target_shape"] = _reshaped(layer, cut)
    elif isinstance(layer, keras.layers.BatchNormalization):
        weights = [w[cut.kept_in] for w in weights]  # gamma, beta, mean, variance
    elif isinstance(layer, keras.layers.DepthwiseConv2D | keras.layers.DepthwiseConv1D):
        kernel, *bias = weights
        weights = [np.take(kernel, cut.kept_in, axis=-2), *(b[cut.kept_in] for b in bias)]
    else:  # Conv or Dense: input channels on the kernel's axis -2, filters on -1
        kernel, *bias = weights
        if cut.kept_in is not None:
            kernel = np.take(kernel, cut.kept_in, axis=-2)
        if cut.kept_out is not None:
            kernel, bias = kernel[..., cut.kept_out], [b[cut.kept_out] for b in bias]
            config["units" if "units" in config else "filters"] = len(cut.kept_out)
        weights = [kernel, *bias]
    new = type(layer).from_config(config)
    out = new(x)
    if weights:
        new.set_weights(weights)
    return out


def _reshaped(layer: keras.layers.Reshape, cut: Slices) -> tuple[int, ...]:
    target = tuple(layer.target_shape)
    width = len(cut.kept_out) if cut.kept_out is not None else None
    if width is None:
        return target
    if target[-1] == -1:
        return target
    if len(target) == 1:
        return (width,)
    return (*target[:-1], width)
