"""C2: depthwise-separable convolution with a width multiplier (MobileNet).

A kh x kw conv with Cin inputs and m filters becomes a depthwise kh x kw conv
(one filter per input channel) followed by a 1x1 conv to round(alpha * m)
channels: kh*kw*Cin + Cin*alpha*m weights instead of kh*kw*Cin*m (seed 004,
section 5.2.1). The narrower output goes through the channel graph: the
batch norm after the conv, the next convolution, later concatenations or the
dense rows after a Flatten shrink to match. Where the channels are tied to
other convolutions (a residual add) or must keep their width (a model
output), the pointwise conv keeps all m filters.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.graph import ChannelGraph, Slices
from compression.graph.replace import (
    Swap,
    apply_swaps,
    settle,
    spatial_targets,
    tied_reason,
    top_filters,
)
from compression.surgery import as_functional
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune


@register
class C2(Technique):
    """Depthwise-separable replacement of conv layers, alpha x narrower."""

    code = "C2"
    name = "Depthwise-separable convolution"
    acts_on = (
        "every spatial (larger than 1x1) Conv2D but the first, narrowing the "
        "BatchNormalization, residual adds and squeeze-excite that carry its channels"
    )
    category = "convolution decomposition"
    applies_to = "conv"
    description = (
        "Replaces a kh x kw convolution by a depthwise kh x kw convolution (one filter per "
        "input channel, same stride and padding) followed by a 1x1 convolution to "
        "round(alpha * m) channels, cutting kh*kw*Cin*m weights to kh*kw*Cin + Cin*alpha*m. "
        "Both are initialised from the original kernel by a rank-1 SVD per input channel, "
        "keeping the alpha * m filters with the largest L1 norm; the batch norm, the next "
        "convolution, later concatenations or dense rows shrink to match. Where the channels "
        "feed a residual add or the model output, all m filters stay. "
        "Acts by default on every spatial (larger than 1x1) Conv2D but the first, such as "
        "ResNet's 3x3 inside a bottleneck or DenseNet's growth convs; a network whose only "
        "spatial convolutions are depthwise (MobileNet, EfficientNet) is refused, since "
        "they are already cheaper. "
        "A layer it would not shrink is refused. Fine-tuned when data is given."
    )
    reference = (
        "Howard et al. 2017, MobileNets: Efficient Convolutional Neural Networks for Mobile "
        "Vision Applications; Liu et al. 2018, AdaDeep, section 5.2.1."
    )
    param_names = ("alpha",)

    def __init__(self, alpha: float = 0.5) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
            raise ValueError(f"alpha must be a number in (0, 1]. Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return a copy with each target conv made depthwise separable.

        Targets default to every spatial (larger than 1x1) Conv2D but the first
        (seed 004 compresses conv2..conv5): the first sees the raw image, where
        a depthwise filter per input channel saves almost nothing, and a 1x1
        conv has no spatial part to separate.

        Raises:
            NotApplicableError: a named target would not shrink, or no target
                qualifies; the message says why.
        """
        source = as_functional(model)
        graph = ChannelGraph(source)
        swaps: dict[str, Swap] = {}
        refusals: list[str] = []
        for layer in spatial_targets(source, targets, self.code):
            kept = self._kept_filters(graph, layer)
            width = layer.filters if kept is None else len(kept)
            kh, kw, cin, m = layer.kernel.shape
            new = kh * kw * cin + cin * width + (width if layer.use_bias else 0)
            if new >= layer.count_params():
                refusals.append(
                    f"a depthwise-separable {layer.name!r} keeping {width} filters would have "
                    f"{new} parameters, no fewer than its {layer.count_params()}."
                )
                continue
            swaps[layer.name] = Swap(_separable, kept)
        settle(self.code, swaps, refusals, named=bool(targets))
        compressed = apply_swaps(graph, swaps)
        if data is not None:
            training.fine_tune(compressed, data, fine_tune or FineTune())
        return compressed

    def _kept_filters(self, graph: ChannelGraph, layer: keras.layers.Layer) -> np.ndarray | None:
        """The alpha * m filters with the largest L1 norm (Li et al. 2017), in order, or
        None when the width must stay (tied to other convs, or a model output)."""
        width = max(1, round(self.alpha * layer.filters))
        if width == layer.filters or tied_reason(graph, layer.name):
            return None
        return top_filters(layer, width)


def _separable(layer: keras.layers.Layer, x: object, cut: Slices) -> object:
    """Depthwise + pointwise convs on ``x`` standing for ``layer``'s kept filters."""
    kernel, *bias = layer.get_weights()
    if cut.kept_in is not None:  # an upstream swap narrowed this conv's input
        kernel = np.take(kernel, cut.kept_in, axis=2)
    keep = np.arange(kernel.shape[-1]) if cut.kept_out is None else cut.kept_out
    depthwise, pointwise = separable_factors(kernel[..., keep])
    dw = keras.layers.DepthwiseConv2D(
        layer.kernel_size,
        strides=layer.strides,
        padding=layer.padding,
        dilation_rate=layer.dilation_rate,
        data_format=layer.data_format,
        use_bias=False,
        name=f"{layer.name}_dw",
    )
    pw = keras.layers.Conv2D(
        len(keep),
        1,
        data_format=layer.data_format,
        activation=layer.activation,
        use_bias=layer.use_bias,
        name=f"{layer.name}_pw",
    )
    out = pw(dw(x))
    dw.set_weights([depthwise])
    pw.set_weights([pointwise, *(b[keep] for b in bias)])
    return out


def separable_factors(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best depthwise-separable approximation of a (kh, kw, Cin, m) kernel.

    Each input channel's (kh*kw) x m slice is replaced by its rank-1 SVD
    u s v^T (Eckart-Young: the closest rank-1 matrix), split as
    depthwise = u sqrt(s), pointwise = sqrt(s) v^T.

    Returns:
        The depthwise kernel (kh, kw, Cin, 1) and pointwise kernel (1, 1, Cin, m).
    """
    kh, kw, cin, m = kernel.shape
    slices = np.transpose(kernel, (2, 0, 1, 3)).reshape(cin, kh * kw, m)
    u, s, vt = np.linalg.svd(slices, full_matrices=False)
    root = np.sqrt(s[:, :1])
    depthwise = (u[:, :, 0] * root).T.reshape(kh, kw, cin, 1)
    pointwise = (vt[:, 0, :] * root).reshape(1, 1, cin, m)
    return depthwise.astype(kernel.dtype), pointwise.astype(kernel.dtype)
