import keras
import pytest

from compression.errors import NotApplicableError
from compression.kernel_targets import ALL_KINDS, default_targets, kind_of, named_targets
from tests.compression.shipped_nets import shipped_net


def _names(layers):
    return [layer.name for layer in layers]


def test_it_keeps_to_the_hidden_dense_layers_of_a_network_that_has_some(lenet):
    assert _names(default_targets(lenet, ALL_KINDS, "W3")) == ["fc1", "fc2"]


def test_it_takes_every_kernel_when_the_only_dense_layer_is_the_classifier():
    model = shipped_net()
    chosen = _names(default_targets(model, ALL_KINDS, "W3"))
    assert chosen == [
        "stem",
        "expand",
        "dw",
        "se_reduce",
        "se_expand",
        "project",
        "predictions",
    ]
    assert kind_of(model.get_layer("dw")) == "DepthwiseConv2D"
    assert _names(default_targets(model, ("Conv2D",), "C3"))[0] == "stem"


def test_it_names_the_kinds_it_takes_when_refusing_a_layer():
    model = shipped_net()
    with pytest.raises(NotApplicableError, match="Conv2D and Dense layers; layer 'dw' is Depth"):
        named_targets(model, ["dw"], ("Conv2D", "Dense"), "C3")
    with pytest.raises(NotApplicableError, match="has no layer 'nope'"):
        named_targets(model, ["nope"], ALL_KINDS, "Cl")
    inputs = keras.Input((4, 4, 1))
    pooled = keras.Model(inputs, keras.layers.MaxPooling2D()(inputs), name="pool_only")
    with pytest.raises(NotApplicableError, match="needs a Dense, Conv2D or DepthwiseConv2D layer"):
        default_targets(pooled, ALL_KINDS, "W3")
