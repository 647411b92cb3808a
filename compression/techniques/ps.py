"""Ps: structured filter pruning (Li, Kadav, Durdanovic, Samet, Graf 2017).

Filters are removed by *group* (``compression.graph``): the convolutions
whose outputs a residual add ties together lose the same channels, chosen by
the L1 norms of their filters summed across the group, and every layer that
carries or reads those channels shrinks to match: batch norms, depthwise
convolutions, squeeze-excite convolutions and Reshapes, the next
convolution's input channels, the rows of a dense kernel after a Flatten or a
global pooling, concatenations at their offsets. The result is a smaller dense
model, fast on any runtime.
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
from compression.graph import ChannelGraph, Group, narrow
from compression.surgery import as_functional, is_kind, layers_of_kind, resolve_targets
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune


def strongest(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Sorted indices kept: all but floor(fraction * n) of the n scores, the largest ones.

    Args:
        scores: one importance per channel (an L1 norm, or a sum of them).
        fraction: share of the channels to remove; at least one stays.
    """
    n = len(scores)
    # The small epsilon keeps float products such as 0.7 * 10 from rounding down.
    keep = max(1, n - math.floor(fraction * n + 1e-9))
    return np.sort(np.argsort(-np.asarray(scores), kind="stable")[:keep])


def strongest_filters(kernel: np.ndarray, fraction: float) -> np.ndarray:
    """Sorted indices of the filters of a (kh, kw, Cin, m) kernel kept by ``strongest``."""
    return strongest(np.abs(kernel).sum(axis=(0, 1, 2)), fraction)


def removed_classes(graph: ChannelGraph, group: Group, fraction: float) -> list[int]:
    """The channel classes of ``group`` with the smallest summed filter L1 norms."""
    kept = set(strongest(graph.filter_norms(group), fraction).tolist())
    return [c for i, c in enumerate(group.classes) if i not in kept]


@register
class Ps(Technique):
    """Structured pruning that removes whole convolution filters."""

    code = "Ps"
    name = "Filter pruning"
    acts_on = (
        "Conv2D filters, group by group: BatchNormalization, DepthwiseConv2D, residual adds, "
        "squeeze-excite multiplies, concatenations and the next layer's inputs shrink with "
        "them"
    )
    category = "pruning"
    applies_to = "conv"
    description = (
        "Removes whole filters from the convolutions, group by group: convolutions whose "
        "outputs a residual add or a squeeze-excite multiply ties together lose the same "
        "channels, those with the smallest L1 norms summed across the group (a fraction of "
        "them, at least one stays). Everything that carries or reads those channels shrinks "
        "to match: batch norms, depthwise convolutions, squeeze-excite layers, the next "
        "convolution, concatenations at their offsets, the dense rows after a Flatten or "
        "global pooling. Then fine-tunes. The model gets really smaller and faster on any "
        "runtime. Channels that reach the model's output or a softmax keep their width."
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
            targets: Conv2D layer names, each pruning its whole group; ``None``
                means every group of Conv2D filters whose width can change.
            data: when given, the pruned model is fine-tuned on it.
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

        Returns:
            A new model with the same layer names and fewer filters.
        """
        source = as_functional(model)
        graph = ChannelGraph(source)
        removed = [
            c
            for group in self._groups(source, targets, graph)
            for c in removed_classes(graph, group, self.fraction)
        ]
        pruned = narrow(graph, removed)
        if data is not None:
            training.fine_tune(pruned, data, fine_tune or FineTune())
        return pruned

    def _groups(
        self, model: keras.Model, targets: Sequence[str] | None, graph: ChannelGraph
    ) -> list[Group]:
        """The groups the target convolutions make; by default every prunable conv group."""
        if targets or not layers_of_kind(model, "conv"):
            groups = []
            for conv in resolve_targets(model, targets, "conv", self.code):
                group = graph.group_of(conv.name)
                if group.blocked:
                    raise NotApplicableError(
                        f"{self.code} cannot remove filters of {conv.name!r}: {group.blocked}."
                    )
                groups.append(group)
            return list(dict.fromkeys(groups))
        convs = [g for g in graph.groups if any(_plain_conv(graph, p) for p in g.producers)]
        chosen = [g for g in convs if g.blocked is None]
        if not chosen:
            reason = convs[0].blocked if convs else "no ungrouped Conv2D makes channels"
            raise NotApplicableError(
                f"{self.code} found no Conv2D layer whose filters it can remove: {reason}."
            )
        return chosen


def _plain_conv(graph: ChannelGraph, name: str) -> bool:
    return is_kind(graph.model.get_layer(name), "conv")
