"""C2: depthwise-separable convolution with a width multiplier (MobileNet).

A kh x kw conv with Cin inputs and m filters becomes a depthwise kh x kw conv
(one filter per input channel) followed by a 1x1 conv to round(alpha * m)
channels: kh*kw*Cin + Cin*alpha*m weights instead of kh*kw*Cin*m (seed 004,
section 5.2.1). Because the output gets narrower, the first layer with weights
downstream (the next Conv2D, or the Dense after a Flatten or global pooling)
is rebuilt for the narrower input; ``consumer_replacement`` does that and is
shared with the other techniques that change a conv's width (L1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.surgery import Replacement, all_but_first, as_functional, rebuild, resolve_targets
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune

# Weightless layers that keep the channel axis as it is, so a narrower conv
# output flows through them unchanged until the next layer with weights.
_CHANNEL_PRESERVING = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.UpSampling2D,
)
_GLOBAL_POOLS = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)


@dataclass(frozen=True)
class Consumer:
    """The first layer with weights that reads a conv's channels.

    Attributes:
        layer: a plain Conv2D or a Dense layer of the source model.
        spatial: (H, W) of the feature map when a Flatten sits in between
            (the Dense kernel's rows are then ordered H, W, channel), else None
            (one kernel row per channel, as after global pooling).
    """

    layer: keras.layers.Layer
    spatial: tuple[int, int] | None


def find_consumer(model: keras.Model, layer: keras.layers.Layer, code: str) -> Consumer:
    """Walk downstream from ``layer`` to the layer whose input width follows it.

    Args:
        model: a functional model containing ``layer``.
        layer: the conv whose number of output channels changes.
        code: the technique code, for error messages.

    Raises:
        NotApplicableError: the output branches, reaches the model output, or
            meets a layer whose input size cannot be changed (for example
            BatchNormalization or Add).
    """
    consumers = _consumer_map(model)
    current, spatial = layer, None
    while True:
        following = consumers.get(current.name, [])
        if len(following) != 1:
            where = "is a model output" if not following else "feeds several layers"
            raise NotApplicableError(
                f"{code} changes the width of {layer.name!r}, whose output {where}; "
                "it needs exactly one downstream Conv2D or Dense to resize."
            )
        nxt = following[0]
        if (type(nxt) is keras.layers.Conv2D and nxt.groups == 1) or isinstance(
            nxt, keras.layers.Dense
        ):
            return Consumer(nxt, spatial)
        if isinstance(nxt, keras.layers.Flatten) and spatial is None and len(nxt.input.shape) == 4:
            if nxt.data_format != "channels_last":
                break
            spatial = (int(nxt.input.shape[1]), int(nxt.input.shape[2]))
        elif not isinstance(nxt, _CHANNEL_PRESERVING + _GLOBAL_POOLS):
            break
        current = nxt
    raise NotApplicableError(
        f"{code} changes the width of {layer.name!r} and cannot resize the layer after "
        f"it, {nxt.name!r} ({type(nxt).__name__}); the next layer with weights must be "
        "a Conv2D, or a Dense after Flatten or global pooling."
    )


def take_channels(kernel: np.ndarray, channel_map: Sequence[int | None], axis: int) -> np.ndarray:
    """Select (and reorder) channels of a kernel along ``axis``.

    Args:
        kernel: weights with one slice per input channel along ``axis``.
        channel_map: for each new channel, the original channel it copies,
            or None for a new channel whose weights start at zero.
        axis: the input-channel axis.
    """
    moved = np.moveaxis(kernel, axis, 0)
    rows = [moved[i] if i is not None else np.zeros_like(moved[0]) for i in channel_map]
    return np.moveaxis(np.stack(rows), 0, axis)


def consumer_kernel(
    consumer: Consumer, kernel: np.ndarray, channel_map: Sequence[int | None]
) -> np.ndarray:
    """The consumer's kernel for its new input channels (see ``take_channels``)."""
    if isinstance(consumer.layer, keras.layers.Conv2D):
        return take_channels(kernel, channel_map, axis=2)
    if consumer.spatial is None:
        return take_channels(kernel, channel_map, axis=0)
    h, w = consumer.spatial
    units = kernel.shape[-1]
    grid = kernel.reshape(h * w, -1, units)  # Flatten orders rows as (H, W, C)
    return take_channels(grid, channel_map, axis=1).reshape(-1, units)


def consumer_replacement(consumer: Consumer, channel_map: Sequence[int | None]) -> Replacement:
    """A replacement rebuilding ``consumer`` for a changed input width.

    The copy keeps the layer's name and configuration; its kernel rows come
    from the original input channels named in ``channel_map`` (zeros for new
    ones) and its bias is unchanged.
    """

    def replace(layer: keras.layers.Layer, x: object) -> object:
        clone = type(layer).from_config(layer.get_config())
        out = clone(x)
        weights = layer.get_weights()
        weights[0] = consumer_kernel(consumer, weights[0], channel_map)
        clone.set_weights(weights)
        return out

    return replace


def _consumer_map(model: keras.Model) -> dict[str, list[keras.layers.Layer]]:
    # Only nodes of this model count: a layer shared with another model (a
    # Sequential converted by as_functional) also has that model's nodes.
    nodes = [node for level in model._nodes_by_depth.values() for node in level]
    consumers: dict[str, list[keras.layers.Layer]] = {}
    for node in nodes:
        for tensor in node.input_tensors:
            producer = tensor._keras_history.operation
            consumers.setdefault(producer.name, []).append(node.operation)
    return consumers


@register
class C2(Technique):
    """Depthwise-separable replacement of conv layers, alpha x narrower."""

    code = "C2"
    name = "Depthwise-separable convolution"
    category = "convolution decomposition"
    applies_to = "conv"
    description = (
        "Replaces a kh x kw convolution by a depthwise kh x kw convolution (one filter per "
        "input channel, same stride and padding) followed by a 1x1 convolution to "
        "round(alpha * m) channels, cutting kh*kw*Cin*m weights to kh*kw*Cin + Cin*alpha*m. "
        "Both are initialised from the original kernel by a rank-1 SVD per input channel, "
        "keeping the alpha * m filters with the largest L1 norm; the next Conv2D or Dense "
        "keeps only the matching input rows. Fine-tuned when data is given."
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

        Targets default to every Conv2D but the first (seed 004 compresses
        conv2..conv5); the first sees the raw image, where a depthwise
        filter per input channel saves almost nothing.
        """
        source = as_functional(model)
        chosen = resolve_targets(source, targets, "conv", self.code, default=all_but_first)
        kept = {layer.name: self._kept_filters(layer) for layer in chosen}
        replacements: dict[str, Replacement] = {}
        narrowed_inputs: dict[str, list[int]] = {}
        for layer in chosen:
            consumer = find_consumer(source, layer, self.code)
            if consumer.layer.name in kept:
                narrowed_inputs[consumer.layer.name] = kept[layer.name]
            else:
                replacements[consumer.layer.name] = consumer_replacement(consumer, kept[layer.name])
        for layer in chosen:
            replacements[layer.name] = self._separable(kept[layer.name], narrowed_inputs)
        compressed = rebuild(source, replacements)
        if data is not None:
            training.fine_tune(compressed, data, fine_tune or FineTune())
        return compressed

    def _kept_filters(self, layer: keras.layers.Layer) -> list[int]:
        # Keep the filters with the largest L1 norm (as in Li et al. 2017),
        # in their original order, so the consumer's rows still line up.
        kernel = layer.get_weights()[0]
        width = max(1, round(self.alpha * kernel.shape[-1]))
        norms = np.abs(kernel).sum(axis=(0, 1, 2))
        return sorted(int(i) for i in np.argsort(-norms, kind="stable")[:width])

    def _separable(self, keep: list[int], narrowed_inputs: dict[str, list[int]]) -> Replacement:
        def replace(layer: keras.layers.Layer, x: object) -> object:
            kernel, *bias = layer.get_weights()
            if layer.name in narrowed_inputs:  # its producer was narrowed too
                kernel = take_channels(kernel, narrowed_inputs[layer.name], axis=2)
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

        return replace


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
