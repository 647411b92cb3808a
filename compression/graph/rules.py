"""What each Keras operation does to the channel axis (the last one, channels_last).

``classify`` sorts one call of an operation into a ``Rule``: the graph then
knows whether the call makes new channels (a convolution's filters), carries
its input's channels through (an activation, a pooling, a batch norm),
ties its inputs' channels together (a residual add, a squeeze-excite
multiply), lays them side by side (a concatenation), spreads them over
positions (a flatten), or is something it must not touch.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

L = keras.layers

# Rule kinds.
INPUT = "input"  # a model input: its channels are fixed
PRODUCER = "producer"  # Conv/Dense: reads channels on its kernel's axis -2, makes new ones
CHANNELWISE = "channelwise"  # one weight slice per channel (BatchNorm, depthwise conv)
PASS = "pass"  # channel c in is channel c out, nothing to resize
MERGE = "merge"  # elementwise on several inputs: their channels are tied one to one
CONCAT = "concat"  # channels laid side by side, at offsets
FLATTEN = "flatten"  # (..., C) -> features: channel c repeats once per position
RESHAPE = "reshape"  # a Reshape keeping the channels last (SE) or flattening them
PIN = "pin"  # known, shape-preserving, but its channels must keep their width
UNKNOWN = "unknown"  # not understood: its inputs and outputs keep their width


@dataclass(frozen=True)
class Rule:
    """How one call of an operation treats channels.

    Attributes:
        kind: one of the kinds above.
        reason: for PIN and UNKNOWN, why the channels it touches cannot change.
    """

    kind: str
    reason: str = ""


_CONVS = (L.Conv1D, L.Conv2D, L.Conv3D)
_PASS_LAYERS = (
    L.ReLU, L.LeakyReLU, L.ELU, L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D,
    L.SpatialDropout3D, L.GaussianNoise, L.GaussianDropout, L.AlphaDropout,
    L.ActivityRegularization,
    L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D,
    L.UpSampling1D, L.UpSampling2D, L.UpSampling3D, L.MaxPooling1D, L.MaxPooling2D,
    L.MaxPooling3D, L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D,
    L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D,
    L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D, L.Identity,
)  # fmt: skip
_MERGE_LAYERS = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum)
# Activations that mix the channels they act on.
_CROSS_CHANNEL = {"softmax", "log_softmax"}
# keras.ops calls (not layers) that act on each value alone, whatever else they take.
_UNARY_OPS = {
    "Relu", "Relu6", "Sigmoid", "HardSigmoid", "Silu", "HardSilu", "Gelu", "Elu", "Selu",
    "LeakyRelu", "Softplus", "Softsign", "Tanh", "Abs", "Absolute", "Negative", "Exp", "Sqrt",
    "Square", "Clip", "Cast", "Mish", "Log", "Log1p", "Sin", "Cos",
}  # fmt: skip
_BINARY_OPS = {"Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum"}


def classify(op: keras.Operation, node: object) -> Rule:
    """The rule for one call (``node``) of ``op``; never raises."""
    if isinstance(op, L.InputLayer):
        return Rule(INPUT)
    if _channels_first(op):
        return Rule(PIN, describe(op, "works channels-first"))
    if not isinstance(op, L.Layer):
        return _classify_op(op, node)
    for check in (_producer, _channelwise, _structural, _pass):
        rule = check(op)
        if rule is not None:
            return rule
    if isinstance(op, L.Softmax | L.LayerNormalization | L.UnitNormalization | L.PReLU):
        return Rule(PIN, describe(op, "mixes channels or holds per-channel constants"))
    if isinstance(op, L.Normalization | L.Rescaling):
        return Rule(PIN, describe(op, "holds per-channel constants"))
    return Rule(UNKNOWN, unknown(op))


def _producer(op: L.Layer) -> Rule | None:
    if not isinstance(op, _CONVS + (L.Dense,)):
        return None
    if isinstance(op, _CONVS) and op.groups != 1:
        return Rule(PIN, describe(op, f"is a grouped convolution (groups={op.groups})"))
    return Rule(PRODUCER)


def _channelwise(op: L.Layer) -> Rule | None:
    if isinstance(op, L.BatchNormalization):
        axis = op.axis if isinstance(op.axis, int) else None
        if axis in (-1, len(op.input.shape) - 1):
            return Rule(CHANNELWISE)
        return Rule(PIN, describe(op, "normalizes another axis than the channels"))
    if isinstance(op, L.DepthwiseConv2D | L.DepthwiseConv1D):
        if op.depth_multiplier == 1:
            return Rule(CHANNELWISE)
        return Rule(PIN, describe(op, f"has depth_multiplier={op.depth_multiplier}"))
    return None


def _structural(op: L.Layer) -> Rule | None:
    if isinstance(op, _MERGE_LAYERS):
        return Rule(MERGE)
    if isinstance(op, L.Concatenate):
        last = op.axis in (-1, len(op.output.shape) - 1)
        return Rule(CONCAT if last else MERGE)
    if isinstance(op, L.Flatten):
        return Rule(FLATTEN)
    if isinstance(op, L.Reshape):
        return Rule(RESHAPE) if reshape_mode(op) else Rule(PIN, describe(op, "moves the channels"))
    return None


def _pass(op: L.Layer) -> Rule | None:
    if isinstance(op, L.Activation):
        if activation_name(op.get_config().get("activation")) in _CROSS_CHANNEL:
            return Rule(PIN, describe(op, "mixes channels (softmax)"))
        return Rule(PASS)
    noise = getattr(op, "noise_shape", None) if isinstance(op, L.Dropout) else None
    if noise is not None and noise[-1] not in (None, 1):
        return Rule(PIN, describe(op, "has a noise_shape naming the channel count"))
    if isinstance(op, _PASS_LAYERS):
        return Rule(PASS)
    if isinstance(op, L.Rescaling) and np.ndim(op.scale) == 0 and np.ndim(op.offset) == 0:
        return Rule(PASS)
    return None


def _classify_op(op: keras.Operation, node: object) -> Rule:
    name = type(op).__name__
    tensors = len(node.input_tensors)
    if name in _UNARY_OPS and tensors == 1:
        return Rule(PASS)
    if name in _BINARY_OPS:
        constants = [a for a in node.arguments.args if not isinstance(a, keras.KerasTensor)]
        if tensors >= 2 and not constants:
            return Rule(MERGE)
        if tensors == 1 and all(np.ndim(c) == 0 for c in constants):
            return Rule(PASS)  # x + 3.0, x * (1 / 6): a scalar on every channel
    return Rule(UNKNOWN, unknown(op))


def reshape_mode(op: L.Reshape) -> str | None:
    """'channels' when a Reshape keeps the channel axis last and alone (C,) <-> (1, 1, C),
    'flatten' when it flattens (..., C) into one axis, else None."""
    source, target = op.input.shape[1:], tuple(op.target_shape)
    if None in source or not source:
        return None
    if target[-1] == source[-1] and np.prod(source[:-1]) == 1 == np.prod(target[:-1]):
        return "channels"
    if len(target) == 1 and target[0] in (-1, int(np.prod(source))):
        return "flatten"
    return None


def _channels_first(op: keras.Operation) -> bool:
    return getattr(op, "data_format", "channels_last") == "channels_first"


def activation_name(activation: object) -> str:
    """The name of a layer's activation, from its config (a string or a serialized dict)."""
    if isinstance(activation, dict):
        activation = activation.get("config", activation).get("name", "")
    return str(activation)


def describe(op: keras.Operation, what: str) -> str:
    """'layer NAME (Type) WHAT', the way refusals name a layer."""
    return f"layer {op.name!r} ({type(op).__name__}) {what}"


def unknown(op: keras.Operation) -> str:
    """The reason given for an operation the graph does not know."""
    return describe(op, "is an operation the channel graph does not know")
