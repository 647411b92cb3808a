"""Which layers the kernel-scope techniques (W3, Cl, C3) act on.

These techniques change kernel values, not shapes, so any layer with a kernel
qualifies: Dense, Conv2D and DepthwiseConv2D, as TFMOT's ``prune_low_magnitude``
prunes every layer it knows a kernel of. A technique names the kinds it takes
(``KINDS`` keys). By default a technique keeps its AdaDeep scope on networks
that have hidden Dense layers (LeNet, AlexNet) and, on a network whose only
Dense layer is the classifier (MobileNet, ResNet, EfficientNet), acts on
every layer of those kinds.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from compression.errors import NotApplicableError

# Kind name -> the Keras class whose kernel a technique may act on.
KINDS: dict[str, type] = {
    "Dense": keras.layers.Dense,
    "Conv2D": keras.layers.Conv2D,
    "DepthwiseConv2D": keras.layers.DepthwiseConv2D,
}
ALL_KINDS = tuple(KINDS)


def kind_of(layer: keras.layers.Layer) -> str | None:
    """The kind name of ``layer`` (one of ``KINDS``), or None if it has no such kernel."""
    for name, cls in KINDS.items():
        if isinstance(layer, cls):
            return name
    return None


def kernel_layers(model: keras.Model, kinds: Sequence[str] = ALL_KINDS) -> list[keras.layers.Layer]:
    """Top-level layers of ``model`` of the given kinds, in graph order."""
    return [layer for layer in model.layers if kind_of(layer) in kinds]


def output_layer_names(model: keras.Model) -> set[str]:
    """Names of the layers that produce ``model``'s outputs."""
    return {t._keras_history.operation.name for t in model.outputs}


def hidden_dense(model: keras.Model) -> list[keras.layers.Layer]:
    """The Dense layers of ``model`` that do not produce an output."""
    outputs = output_layer_names(model)
    return [la for la in kernel_layers(model, ("Dense",)) if la.name not in outputs]


def head_convs(model: keras.Model) -> list[keras.layers.Layer]:
    """The 1x1 Conv2D layers of a network's head, which are Dense layers in all but name.

    The head is the chain of one-input layers from the last global pooling to
    the single output. A 1x1 kernel in one group after global pooling multiplies
    a vector by a matrix, exactly as Dense does: MobileNetV3 builds its head so
    (pooling that keeps its axes, then two 1x1 convolutions), and the dense-layer
    techniques (W1f, W2) act on it as on Dense layers. Convolutions before the
    pooling are left alone, even where a small input shrinks their map to 1x1.

    Returns:
        The head's convolutions in graph order; empty when there is no such head.
    """
    if len(model.outputs) != 1:
        return []
    found = []
    layer = model.outputs[0]._keras_history.operation
    while not isinstance(layer, GLOBAL_POOLING):
        inputs = getattr(layer, "_inbound_nodes", None)
        if not inputs or len(inputs) != 1 or len(inputs[0].input_tensors) != 1:
            return []  # a merge, a shared layer or the input: no pooled head
        if _is_pointwise(layer):
            found.append(layer)
        layer = inputs[0].input_tensors[0]._keras_history.operation
    return found[::-1]


# Layers that reduce a feature map to one vector, where a head begins.
GLOBAL_POOLING = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)


def _is_pointwise(layer: keras.layers.Layer) -> bool:
    if type(layer) is not keras.layers.Conv2D:  # not depthwise, separable or transposed
        return False
    return tuple(layer.kernel_size) == (1, 1) and layer.groups == 1


def named_targets(
    model: keras.Model, targets: Sequence[str], kinds: Sequence[str], code: str
) -> list[keras.layers.Layer]:
    """The layers named in ``targets``, each checked to be of one of ``kinds``.

    Raises:
        NotApplicableError: a name is not a layer of ``model``, or the layer
            is of another kind.
    """
    layers = {layer.name: layer for layer in model.layers}
    chosen = []
    for name in targets:
        if name not in layers:
            raise NotApplicableError(
                f"{code}: model {model.name!r} has no layer {name!r}. "
                f"Its layers: {', '.join(layers)}."
            )
        if kind_of(layers[name]) not in kinds:
            raise NotApplicableError(
                f"{code} applies to {describe(kinds)} layers; layer {name!r} is "
                f"{type(layers[name]).__name__}. Received: targets={list(targets)}"
            )
        chosen.append(layers[name])
    return chosen


def default_targets(
    model: keras.Model, kinds: Sequence[str], code: str
) -> list[keras.layers.Layer]:
    """Hidden Dense layers if the model has any; otherwise every layer of ``kinds``.

    Raises:
        NotApplicableError: the model has no layer of any of ``kinds``.
    """
    chosen = hidden_dense(model) if "Dense" in kinds else []
    if not chosen:
        chosen = kernel_layers(model, kinds)
    if not chosen:
        raise NotApplicableError(
            f"{code} needs a {describe(kinds, 'or')} layer and model {model.name!r} has none."
        )
    return chosen


def describe(kinds: Sequence[str], conjunction: str = "and") -> str:
    """``Dense, Conv2D and DepthwiseConv2D``-style list of kind names."""
    names = list(kinds)
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"
