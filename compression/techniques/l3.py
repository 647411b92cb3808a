"""L3: global average pooling head (Network in Network) in place of the dense head.

The Flatten + Dense layers at the end of a classifier are replaced by a 1x1
conv to one feature map per class, global average pooling and the head's
output activation (softmax): Cin*classes weights (+ classes biases) instead
of the dense head's (seed 004, section 5.2.1).

The refusal is inherent on networks that already end in global pooling and a
single Dense classifier (MobileNet, ResNet, EfficientNet and most networks
designed since Network in Network): a 1x1 conv to the classes then global
average pooling has exactly the classifier's Cin*classes + classes weights, so
there is nothing to replace. Global pooling followed by several Dense layers
is still replaced (the hidden Dense layers go).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.surgery import as_functional, copy_model, resolve_targets
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune

# Layers that may sit between the Flatten and the output besides Dense.
_HEAD_EXTRAS = (keras.layers.Dropout, keras.layers.Activation, keras.layers.ReLU)
# Layers that turn a 4-D feature map into the dense head's input.
_HEAD_STARTS = (
    keras.layers.Flatten,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)


def dense_head(model: keras.Model, code: str = "L3") -> list[keras.layers.Layer]:
    """The head of ``model``: its Flatten (or global pooling) layer and what follows.

    Walks back from the single output through Dense (and Dropout or
    activation) layers to the Flatten or global pooling layer that starts
    the head, whose input must be a 4-D feature map.

    Returns:
        The head's layers from the Flatten to the output layer.

    Raises:
        NotApplicableError: the model has several outputs, or no 4-D
            (Conv2D-shaped) feature map feeds a Flatten + Dense head.
    """
    if len(model.outputs) != 1:
        raise NotApplicableError(f"{code} needs a model with one output; {model.name!r} has more.")
    layer = model.outputs[0]._keras_history.operation
    head: list[keras.layers.Layer] = []
    while isinstance(layer, (keras.layers.Dense, *_HEAD_EXTRAS)):
        head.insert(0, layer)
        layer = layer.input._keras_history.operation
    has_dense = any(isinstance(la, keras.layers.Dense) for la in head)
    if not (has_dense and isinstance(layer, _HEAD_STARTS) and len(layer.input.shape) == 4):
        raise NotApplicableError(
            f"{code} replaces a Flatten + Dense head fed by a 4-D feature map (a Conv2D "
            f"output); model {model.name!r} has none (walking back from its output reached "
            f"{layer.name!r}, {type(layer).__name__})."
        )
    return [layer, *head]


@register
class L3(Technique):
    """Global-average-pooling head replacing the Flatten + Dense head.

    Refused, by its nature, on a network that already ends in global pooling
    and a single Dense classifier: there is no dense head to replace.
    """

    code = "L3"
    min_fine_tune_epochs = 8
    name = "Global average pooling head"
    acts_on = (
        "the classifier head: Flatten and the Dense layers after it (a head that already "
        "pools globally is refused)"
    )
    category = "layer architecture"
    applies_to = "fc"
    description = (
        "Replaces the Flatten and every Dense layer after it by a 1x1 convolution to one "
        "feature map per class, global average pooling and the head's output activation "
        "(softmax), as in Network in Network. Weights: Cin*classes + classes. The new "
        "convolution starts from a seeded random initialisation and is fine-tuned when "
        "data is given. Refused on networks that already end in global pooling and a "
        "single Dense classifier (MobileNet, ResNet, EfficientNet): the pooling head would "
        "have the same weights, so there is nothing to gain."
    )
    reference = (
        "Lin, Chen and Yan 2014, Network In Network (ICLR); "
        "Liu et al. 2018, AdaDeep, section 5.2.1."
    )
    param_names = ()

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return a copy whose dense head is a 1x1 conv plus global average pooling.

        The whole head is always replaced. ``targets`` may be omitted; if
        given, every name must be a Dense layer of the head (for example
        ``L3@fc1,fc2`` in a plan), which documents intent without changing
        what is replaced.

        Raises:
            NotApplicableError: no Flatten + Dense head fed by a 4-D feature
                map, a head that already is global pooling and one Dense
                layer, or a target outside the head.
        """
        budget = fine_tune or FineTune()
        source = as_functional(model)
        head = dense_head(source, self.code)
        _refuse_pooling_head(source, head)
        if targets:
            _check_targets(source, targets, head)
        copy = copy_model(source)
        compressed = keras.Model(copy.inputs, _gap_head(copy, head, budget.seed), name=source.name)
        if data is not None:
            training.fine_tune(compressed, data, budget)
        return compressed


def _refuse_pooling_head(model: keras.Model, head: list[keras.layers.Layer]) -> None:
    """Refuse a head that is already global pooling and a single Dense classifier."""
    dense = [la for la in head if isinstance(la, keras.layers.Dense)]
    if isinstance(head[0], keras.layers.Flatten) or len(dense) > 1:
        return
    raise NotApplicableError(
        f"L3 has nothing to replace in model {model.name!r}: it already ends in global "
        f"pooling ({head[0].name!r}, {type(head[0]).__name__}) and a single Dense "
        f"classifier ({dense[0].name!r}), and a 1x1 conv plus global average pooling would "
        "have the same weights. L3 applies to Flatten + Dense heads."
    )


def _check_targets(model: keras.Model, targets: Sequence[str], head: list) -> None:
    head_names = [la.name for la in head]
    for layer in resolve_targets(model, targets, "fc", "L3"):
        if layer.name not in head_names:
            raise NotApplicableError(
                f"L3 replaces the whole dense head ({', '.join(head_names)}); "
                f"{layer.name!r} is not part of it. Received: targets={list(targets)}"
            )


def _gap_head(copy: keras.Model, head: list[keras.layers.Layer], seed: int) -> object:
    """Build conv 1x1 -> global average pooling -> activation on ``copy``'s feature map.

    Returns:
        The new output tensor; layers after the last Dense (an Activation or
        Dropout) are re-applied after the new head.
    """
    last = max(i for i, la in enumerate(head) if isinstance(la, keras.layers.Dense))
    fmt = head[0].data_format
    conv = keras.layers.Conv2D(
        head[last].units,  # one feature map per class
        1,
        data_format=fmt,
        kernel_initializer=keras.initializers.GlorotUniform(seed),
        name="head_conv",
    )
    gap = keras.layers.GlobalAveragePooling2D(data_format=fmt, name="head_gap")
    out = gap(conv(copy.get_layer(head[0].name).input))
    activation = head[last].activation
    out = (
        keras.layers.Softmax(name="head_softmax")
        if activation is keras.activations.softmax
        else keras.layers.Activation(activation, name="head_activation")
    )(out)
    for trailing in head[last + 1 :]:
        out = copy.get_layer(trailing.name)(out)
    return out
