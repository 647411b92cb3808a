"""L1: the Fire module of SqueezeNet in place of a conv layer.

A conv with Cin inputs and m filters becomes a squeeze 1x1 conv to s
channels followed by two expand convs, 1x1 (e1 filters) and 3x3 (e3
filters), whose outputs are concatenated: Cin*s + s*e1 + 9*s*e3 weights
(seed 004, section 5.2.1). The Fire module cannot represent a larger kernel,
so it starts from a seeded Glorot initialisation and learns by fine-tuning.

By default it replaces spatial convolutions (ResNet's 3x3 inside a
bottleneck, DenseNet's growth convs); a squeeze width that would not shrink
the layer is lowered until it does, or the layer is refused. A narrower
output (``expand`` set) goes through the channel graph, so the batch norm
and the convolutions after it narrow too.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.graph import Builder, ChannelGraph, Slices
from compression.graph.replace import Swap, apply_swaps, settle, spatial_targets, tied_reason
from compression.surgery import as_functional
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune


def _check_width(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive int or None. Received: {name}={value!r}")


@register
class L1(Technique):
    """Fire module (squeeze 1x1, expand 1x1 + 3x3) replacing conv layers."""

    code = "L1"
    min_fine_tune_epochs = 6
    name = "Fire module"
    acts_on = (
        "every spatial (larger than 1x1) Conv2D but the first, narrowing the "
        "BatchNormalization, residual adds and squeeze-excite that carry its channels"
    )
    category = "layer architecture"
    applies_to = "conv"
    description = (
        "Replaces a convolution by SqueezeNet's Fire module: a 1x1 squeeze convolution to "
        "`squeeze` channels (default m/8, carrying the original stride) feeding a 1x1 and a "
        "3x3 expand convolution of `expand` filters each (default m/2, so the output keeps m "
        "channels), concatenated. Weights: Cin*s + s*e1 + 9*s*e3. The new layers start from "
        "a seeded random initialisation and are fine-tuned when data is given. "
        "Acts by default on every spatial (larger than 1x1) Conv2D but the first, such as "
        "ResNet's 3x3 inside a bottleneck or DenseNet's growth convs; a network whose only "
        "spatial convolutions are depthwise (MobileNet, EfficientNet) is refused, since "
        "they are already cheaper. "
        "The squeeze width is lowered until the module is smaller than the layer."
    )
    reference = (
        "Iandola et al. 2016, SqueezeNet: AlexNet-level accuracy with 50x fewer parameters "
        "and <0.5MB model size; Liu et al. 2018, AdaDeep, section 5.2.1."
    )
    param_names = ("squeeze", "expand")

    def __init__(self, squeeze: int | None = None, expand: int | None = None) -> None:
        _check_width("squeeze", squeeze)
        _check_width("expand", expand)
        self.squeeze = squeeze
        self.expand = expand

    def widths(self, m: int) -> tuple[int, int, int]:
        """(s, e1, e3) for a conv with m filters.

        With ``expand`` unset, e1 + e3 = m (e3 takes the odd filter), so the
        layers downstream see the same width.
        """
        s = self.squeeze if self.squeeze is not None else max(1, m // 8)
        if self.expand is not None:
            return s, self.expand, self.expand
        return s, m // 2, m - m // 2

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return a copy with each target conv replaced by a Fire module.

        Targets default to every spatial (larger than 1x1) Conv2D but the first
        (seed 004 compresses conv2..conv5). When ``expand`` makes the output
        narrower than m, the Fire module stands for the first 2 * expand
        channels and the layers reading them narrow through the channel graph.

        Raises:
            NotApplicableError: a named target would grow or widen, or no
                target qualifies; the message says why.
        """
        budget = fine_tune or FineTune()
        source = as_functional(model)
        graph = ChannelGraph(source)
        swaps: dict[str, Swap] = {}
        refusals: list[str] = []
        for index, layer in enumerate(spatial_targets(source, targets, self.code)):
            try:
                s, e1, e3, kept = self._plan(graph, layer)
            except ValueError as why:
                refusals.append(str(why))
                continue
            swaps[layer.name] = Swap(self._fire(s, e1, e3, budget.seed + 3 * index), kept)
        settle(self.code, swaps, refusals, named=bool(targets))
        compressed = apply_swaps(graph, swaps)
        if data is not None:
            training.fine_tune(compressed, data, budget)
        return compressed

    def _plan(
        self, graph: ChannelGraph, layer: keras.layers.Layer
    ) -> tuple[int, int, int, np.ndarray | None]:
        """(s, e1, e3, kept output channels) for ``layer``; ValueError says why not."""
        m, cin = layer.filters, layer.kernel.shape[2]
        s, e1, e3 = self.widths(m)
        if e1 + e3 > m:
            raise ValueError(f"expand={self.expand} would widen {layer.name!r} past {m} channels.")
        kept = None
        if e1 + e3 < m:
            tied = tied_reason(graph, layer.name)
            if tied:
                raise ValueError(f"{layer.name!r} must keep its {m} channels: {tied}.")
            kept = np.arange(e1 + e3)
        per_squeeze = cin + 1 + e1 + 9 * e3  # weights each squeeze channel brings
        fixed = (e1 + e3) if layer.use_bias else 0
        if self.squeeze is None:  # lower the default squeeze until the module shrinks
            s = min(s, -(-(layer.count_params() - fixed) // per_squeeze) - 1)
        if s < 1 or s * per_squeeze + fixed >= layer.count_params():
            raise ValueError(
                f"a Fire module for {layer.name!r} (squeeze {max(s, 1)}, expand {e1}+{e3}) "
                f"would have no fewer parameters than its {layer.count_params()}."
            )
        return s, e1, e3, kept

    def _fire(self, s: int, e1: int, e3: int, seed: int) -> Builder:
        def replace(layer: keras.layers.Layer, x: object, cut: Slices) -> object:
            fmt = layer.data_format
            x = _crop_like(layer, x)
            squeeze = keras.layers.Conv2D(
                s,
                1,
                strides=layer.strides,
                data_format=fmt,
                activation="relu",  # SqueezeNet's squeeze layers use ReLU
                kernel_initializer=keras.initializers.GlorotUniform(seed),
                name=f"{layer.name}_squeeze",
            )(x)
            expanded = [
                keras.layers.Conv2D(
                    width,
                    size,
                    padding="same",
                    data_format=fmt,
                    activation=layer.activation,
                    use_bias=layer.use_bias,
                    kernel_initializer=keras.initializers.GlorotUniform(seed + offset),
                    name=f"{layer.name}_expand{size}x{size}",
                )(squeeze)
                for offset, (width, size) in enumerate(((e1, 1), (e3, 3)), start=1)
            ]
            axis = -1 if fmt == "channels_last" else 1
            return keras.layers.Concatenate(axis=axis, name=f"{layer.name}_concat")(expanded)

        return replace


def _crop_like(layer: keras.layers.Layer, x: object) -> object:
    """Crop the input so a strided 1x1 conv matches a 'valid' conv's output size.

    A 'valid' conv with effective kernel k and stride S gives floor((H - k)/S) + 1
    rows; a 1x1 conv with stride S on H - (k - 1) rows gives the same. 'same'
    padding needs no crop (both give ceil(H / S)).
    """
    if layer.padding != "valid":
        return x
    span = [d * (k - 1) for k, d in zip(layer.kernel_size, layer.dilation_rate, strict=True)]
    if not any(span):
        return x
    crop = tuple((c // 2, c - c // 2) for c in span)
    return keras.layers.Cropping2D(crop, data_format=layer.data_format, name=f"{layer.name}_crop")(
        x
    )
