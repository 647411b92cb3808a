"""Graph surgery on functional Keras models: copy, replace layers, find layers.

Techniques never edit a model in place. ``rebuild`` clones the graph with
``keras.models.clone_model`` and, for each layer named in ``replacements``,
calls a function that builds the sub-graph standing in for it; every other
layer keeps a copy of its trained weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import keras

from compression.errors import NotApplicableError
from compression.training import carry_constraints

# A replacement receives the original layer and the new input tensor and
# returns the output tensor of the sub-graph that takes the layer's place.
Replacement = Callable[[keras.layers.Layer, object], object]

# Layer kinds a technique can target, by the Keras classes they cover.
LAYER_KINDS: dict[str, tuple[type, ...]] = {
    "fc": (keras.layers.Dense,),
    "conv": (keras.layers.Conv2D,),
}
KIND_NAMES = {"fc": "Dense", "conv": "Conv2D"}


def as_functional(model: keras.Model) -> keras.Model:
    """The same graph as a functional model (Sequential models are converted)."""
    if not isinstance(model, keras.Sequential):
        return model
    inputs = keras.Input(shape=model.input_shape[1:], name="input")
    x = inputs
    for layer in model.layers:
        x = layer(x)
    return keras.Model(inputs, x, name=model.name)


def is_kind(layer: keras.layers.Layer, kind: str) -> bool:
    """Whether ``layer`` is of a target kind ('fc' or 'conv').

    Conv2D subclasses such as depthwise and separable convolutions are not
    plain convolutions and do not count as 'conv'.
    """
    if kind == "conv":
        return type(layer) is keras.layers.Conv2D
    return isinstance(layer, LAYER_KINDS[kind])


def all_but_first(layers: list[keras.layers.Layer]) -> list[keras.layers.Layer]:
    """Default conv targets: every one but the first (seed 004 compresses conv2..conv5;
    the first conv sees few input channels and little is gained there)."""
    return layers[1:]


def layers_of_kind(model: keras.Model, kind: str) -> list[keras.layers.Layer]:
    """Top-level layers of ``model`` of the given kind, in graph order."""
    return [layer for layer in model.layers if is_kind(layer, kind)]


def resolve_targets(
    model: keras.Model,
    targets: Sequence[str] | None,
    kind: str,
    code: str,
    default: Callable[[list[keras.layers.Layer]], list[keras.layers.Layer]] | None = None,
) -> list[keras.layers.Layer]:
    """Check and return the layers a technique will act on.

    Args:
        model: the model being compressed.
        targets: layer names asked for, or ``None`` for the default.
        kind: 'fc' or 'conv', the layer kind the technique needs.
        code: the technique code, for error messages.
        default: picks the default targets from every layer of the kind;
            by default, every layer of the kind except the output layer.

    Raises:
        NotApplicableError: the model has no layer of that kind, a named
            layer does not exist, or it is of another kind.
    """
    eligible = layers_of_kind(model, kind)
    kind_name = KIND_NAMES[kind]
    if not eligible:
        raise NotApplicableError(
            f"{code} needs a {kind_name} layer and model {model.name!r} has none."
        )
    if targets:
        chosen = []
        for name in targets:
            layer = _get_layer(model, name, code)
            if not is_kind(layer, kind):
                raise NotApplicableError(
                    f"{code} applies to {kind_name} layers; layer {name!r} is "
                    f"{type(layer).__name__}. Received: targets={list(targets)}"
                )
            chosen.append(layer)
        return chosen
    output_names = {t._keras_history.operation.name for t in model.outputs}
    pick = default or (lambda ls: [la for la in ls if la.name not in output_names])
    chosen = pick(eligible)
    if not chosen:
        raise NotApplicableError(
            f"{code} found no {kind_name} layer it acts on by default in model {model.name!r}; "
            "name the target layers explicitly."
        )
    return chosen


def _get_layer(model: keras.Model, name: str, code: str) -> keras.layers.Layer:
    try:
        return model.get_layer(name)
    except ValueError:
        names = ", ".join(layer.name for layer in model.layers)
        raise NotApplicableError(
            f"{code}: model {model.name!r} has no layer {name!r}. Its layers: {names}."
        ) from None


def rebuild(
    model: keras.Model, replacements: Mapping[str, Replacement] | None = None
) -> keras.Model:
    """Clone ``model``, swapping the named layers for new sub-graphs.

    Args:
        model: the source model; left untouched.
        replacements: layer name -> function(original_layer, new_input)
            returning the new output tensor. The function must set the
            weights of the layers it creates (they are built once called).

    Returns:
        A new functional model. Layers not replaced carry copies of their
        weights; replaced layers are gone.
    """
    replacements = dict(replacements or {})
    source = as_functional(model)
    missing = [name for name in replacements if name not in {la.name for la in source.layers}]
    if missing:
        raise NotApplicableError(f"Model {model.name!r} has no layer named {missing[0]!r}.")

    def call(layer: keras.layers.Layer, *args: object, **kwargs: object) -> object:
        if layer.name in replacements:
            return replacements[layer.name](source.get_layer(layer.name), *args)
        return layer(*args, **kwargs)

    clone = keras.models.clone_model(source, call_function=call)
    for layer in clone.layers:
        if layer.name in replacements or not layer.weights:
            continue
        try:
            original = source.get_layer(layer.name)
        except ValueError:
            continue  # created by a replacement: it set its own weights
        if layer is not original:
            layer.set_weights(original.get_weights())
    carry_constraints(model, clone, dropped=set(replacements))
    return clone


def copy_model(model: keras.Model) -> keras.Model:
    """An independent copy with the same graph and weights."""
    return rebuild(model)
