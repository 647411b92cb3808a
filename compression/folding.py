"""Fold BatchNormalization (and a following ReLU) into the layer before it.

At inference a BatchNormalization after a linear Dense, Conv2D or
DepthwiseConv2D is a per-channel affine map, so it can be merged into that
layer's kernel and bias; a ReLU or ReLU6 after it becomes the layer's own
activation. The TFLite converter does the same, which is why an int8 model has
no BatchNormalization: quantization-aware training must train the folded layer
to see the rounding the exported model will do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import keras
import numpy as np

from compression.kernel_targets import kind_of

# Activations a folded layer can absorb, by the name Keras gives the function.
FUSABLE = ("relu", "relu6")


@dataclass(frozen=True)
class Fold:
    """What merges into one Dense/Conv2D/DepthwiseConv2D layer.

    Attributes:
        layer: the layer that absorbs the others.
        norm: the BatchNormalization folded into it, if any.
        relu: the ReLU-like layer fused into it, if any.
        activation: the layer's activation once fused ("linear", "relu", "relu6").
    """

    layer: str
    norm: str | None
    relu: str | None
    activation: str

    @property
    def absorbed(self) -> tuple[str, ...]:
        """Names of the layers that disappear."""
        return tuple(name for name in (self.norm, self.relu) if name)


def consumers(model: keras.Model) -> dict[str, list[keras.layers.Layer | None]]:
    """Layer name -> the layers reading its output in ``model`` (None for a model output)."""
    readers: dict[str, list[keras.layers.Layer | None]] = defaultdict(list)
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.input_tensors:
                readers[tensor._keras_history.operation.name].append(node.operation)
    for tensor in model.outputs:
        readers[tensor._keras_history.operation.name].append(None)
    return readers


def find_folds(model: keras.Model) -> dict[str, Fold]:
    """The folds possible in ``model``, by the name of the absorbing layer.

    A layer folds the BatchNormalization reading its output when it is that
    norm's only reader, the layer is linear and the norm normalises the last
    axis; a ReLU (or ReLU6) that is the only reader of the result is fused too.
    """
    readers = consumers(model)
    folds = {}
    for layer in model.layers:
        if kind_of(layer) is None or _activation_name(layer) != "linear":
            continue
        norm = _sole_reader(readers, layer.name, keras.layers.BatchNormalization)
        if norm is not None and not _last_axis(norm):
            norm = None
        last = norm.name if norm is not None else layer.name
        relu = _sole_reader(readers, last, (keras.layers.ReLU, keras.layers.Activation))
        activation = _fusable(relu) if relu is not None else None
        if norm is None and activation is None:
            continue
        folds[layer.name] = Fold(
            layer.name,
            norm.name if norm is not None else None,
            relu.name if activation else None,
            activation or "linear",
        )
    return folds


def folded_weights(
    layer: keras.layers.Layer, norm: keras.layers.BatchNormalization
) -> list[np.ndarray]:
    """``[kernel, bias]`` of ``layer`` with ``norm`` (in inference mode) merged in.

    y = gamma (x W + b - mean) / sqrt(var + eps) + beta = x (W s) + (b - mean) s + beta,
    with s = gamma / sqrt(var + eps) per output channel.
    """
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    depthwise = kind_of(layer) == "DepthwiseConv2D"
    # A depthwise kernel (kh, kw, C, multiplier) has output channel c * multiplier + j.
    channels = kernel.shape[2] * kernel.shape[3] if depthwise else kernel.shape[-1]
    bias = _value(layer.bias if layer.use_bias else None, channels, 0.0)
    gamma = _value(norm.gamma, channels, 1.0)
    beta = _value(norm.beta, channels, 0.0)
    mean = _value(norm.moving_mean, channels, 0.0)
    variance = _value(norm.moving_variance, channels, 1.0)
    scale = gamma / np.sqrt(variance + norm.epsilon)
    kernel = kernel * (scale.reshape(kernel.shape[2:]) if depthwise else scale)
    return [kernel.astype("float32"), ((bias - mean) * scale + beta).astype("float32")]


def _value(variable: object, size: int, default: float) -> np.ndarray:
    if variable is None:
        return np.full(size, default)
    return keras.ops.convert_to_numpy(variable).astype("float64").reshape(size)


def _sole_reader(
    readers: dict[str, list[keras.layers.Layer | None]], name: str, kinds: type | tuple[type, ...]
) -> keras.layers.Layer | None:
    found = readers.get(name, [])
    if len(found) == 1 and isinstance(found[0], kinds):
        return found[0]
    return None


def _last_axis(norm: keras.layers.BatchNormalization) -> bool:
    rank = len(norm.input.shape)
    return norm.axis in (-1, rank - 1)


def _fusable(layer: keras.layers.Layer) -> str | None:
    """ "relu" or "relu6" if ``layer`` is exactly that activation, else None."""
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        if config["negative_slope"] or config["threshold"]:
            return None
        if config["max_value"] is None:
            return "relu"
        return "relu6" if float(config["max_value"]) == 6.0 else None
    name = _activation_name(layer)
    return name if name in FUSABLE else None


def _activation_name(layer: keras.layers.Layer) -> str:
    return getattr(layer.activation, "__name__", "")


def affine_map(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel (scale, offset) of a Rescaling or Normalization on a 4-D input.

    Such a layer is y = scale * x + offset channel by channel, which is a 1x1
    DepthwiseConv2D; as one, its int8 form is an ordinary quantized
    convolution (as a multiply and an add, the converter fuses or drops parts
    of it and then rejects the fake-quantization ranges around it).

    Returns:
        Two float32 arrays of shape (channels,), or None for another layer,
        an input that is not 4-D, or a Normalization over another axis.
    """
    if not isinstance(layer, keras.layers.Rescaling | keras.layers.Normalization):
        return None
    shape = layer.input.shape
    if len(shape) != 4 or shape[-1] is None:
        return None
    channels = int(shape[-1])
    if isinstance(layer, keras.layers.Rescaling):
        scale, offset = np.asarray(layer.scale, "float64"), np.asarray(layer.offset, "float64")
    elif isinstance(layer, keras.layers.Normalization) and tuple(layer.axis) in ((-1,), (3,)):
        mean = keras.ops.convert_to_numpy(layer.mean).astype("float64")
        std = np.maximum(
            np.sqrt(keras.ops.convert_to_numpy(layer.variance)), keras.config.epsilon()
        )
        scale, offset = (std, mean) if layer.invert else (1.0 / std, -mean / std)
    else:
        return None
    return (
        np.broadcast_to(scale.reshape(-1), (channels,)).astype("float32"),
        np.broadcast_to(offset.reshape(-1), (channels,)).astype("float32"),
    )
