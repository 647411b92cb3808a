"""Replacing convolutions by smaller sub-networks, with the graph keeping widths right.

C2, L1 and L2 swap a spatial convolution (ResNet's 3x3 inside a bottleneck,
DenseNet's 3x3 growth conv, AlexNet's convs) for a cheaper block. A block
may output fewer channels than the convolution did: then every layer that
carries or reads them (the batch norm after it, the next convolution, later
concatenations) narrows through ``compression.graph.narrow``. Where the
channels are tied to other convolutions (a residual add, a squeeze-excite
scale) or must keep their width (a model output), the block keeps the
convolution's width instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from compression.errors import NotApplicableError
from compression.graph.build import ChannelGraph
from compression.graph.narrow import Builder, narrow
from compression.surgery import all_but_first, is_kind, layers_of_kind, resolve_targets


@dataclass(frozen=True)
class Swap:
    """One convolution's replacement.

    Attributes:
        build: makes the block on the new input (its slices give the kept
            input channels, if an upstream swap narrowed them, and the kept
            output channels).
        kept: the conv's output channels the block stands for, in order
            (None: all of them, the width is unchanged).
    """

    build: Builder
    kept: np.ndarray | None = None


def spatial_targets(
    model: keras.Model, targets: Sequence[str] | None, code: str
) -> list[keras.layers.Layer]:
    """The convolutions a block technique replaces.

    Named targets may be any plain Conv2D. By default: every plain Conv2D with
    a kernel larger than 1x1 except the first (seed 004 compresses conv2..conv5);
    1x1 and depthwise convolutions are already as cheap as a block would be.

    Raises:
        NotApplicableError: a named layer is not a Conv2D, or nothing qualifies
            by default (the message says why).
    """
    if targets or not layers_of_kind(model, "conv"):
        return resolve_targets(model, targets, "conv", code)
    convs = layers_of_kind(model, "conv")
    chosen = [la for la in all_but_first(convs) if np.prod(la.kernel_size) > 1]
    if not chosen:
        depthwise = sum(isinstance(la, keras.layers.DepthwiseConv2D) for la in model.layers)
        raise NotApplicableError(
            f"{code} replaces spatial convolutions and model {model.name!r} has none besides "
            f"its first ({convs[0].name!r}): its other {len(convs) - 1} Conv2D layers are "
            f"1x1 and its {depthwise} spatial ones are depthwise, already cheaper than the "
            "block would be. Name a layer to replace it anyway."
        )
    return chosen


def tied_reason(graph: ChannelGraph, name: str) -> str | None:
    """Why the output width of conv ``name`` cannot change on its own, or None if it can."""
    group = graph.group_of(name)
    if group.blocked:
        return group.blocked
    others = [p for p in group.producers if p != name]
    if others:
        return f"its channels are tied to {others[0]!r} (a residual add or a scale)"
    return None


def top_filters(layer: keras.layers.Layer, width: int) -> np.ndarray:
    """The ``width`` filters with the largest L1 norms, in their original order."""
    kernel = layer.get_weights()[0]
    norms = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    return np.sort(np.argsort(-norms, kind="stable")[:width])


def apply_swaps(graph: ChannelGraph, swaps: Mapping[str, Swap]) -> keras.Model:
    """A copy of the graph's model with each conv swapped, its readers narrowed to match."""
    removed = []
    for name, swap in swaps.items():
        if swap.kept is not None:
            classes = graph.output_classes(name)
            dropped = np.setdiff1d(np.arange(len(classes)), swap.kept)
            removed.extend(classes[dropped].tolist())
    return narrow(graph, removed, {name: swap.build for name, swap in swaps.items()})


def settle(code: str, swaps: dict[str, Swap], refusals: list[str], named: bool) -> None:
    """Refuse when a named target would not shrink, or when no target would.

    Raises:
        NotApplicableError: naming the first reason.
    """
    if refusals and (named or not swaps):
        raise NotApplicableError(f"{code}: {refusals[0]}")


def is_target_conv(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` is a plain (ungrouped) Conv2D a block can replace."""
    return is_kind(layer, "conv") and layer.groups == 1
