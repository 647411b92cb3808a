import json

import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.l1 import L1
from compression.training import FineTune
from tests.compression import graph_models


def _accuracy(model, data):
    return float(np.mean(model.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test))


def _dense_only():
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dense(3, name="fc1")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x), name="mlp")


def test_it_is_registered_under_its_code():
    assert get_technique("L1") is L1


def test_it_builds_a_fire_module_with_the_documented_param_count(lenet):
    cin, m = lenet.get_layer("conv2").get_weights()[0].shape[2:]
    s, e = m // 8, m // 2
    out = L1().apply(lenet, targets=["conv2"])

    assert out.get_layer("conv2_squeeze").count_params() == cin * s + s
    assert out.get_layer("conv2_expand1x1").count_params() == s * e + e
    assert out.get_layer("conv2_expand3x3").count_params() == 9 * s * e + e
    concat = out.get_layer("conv2_concat")
    assert concat.output.shape[1:] == lenet.get_layer("conv2").output.shape[1:]
    removed = lenet.get_layer("conv2").count_params()
    added = (cin * s + s * e + 9 * s * e) + (s + 2 * e)
    assert out.count_params() == lenet.count_params() - removed + added


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("strides", [1, 2])
def test_it_keeps_the_output_shape_for_any_stride_and_padding(padding, strides):
    inputs = keras.Input(shape=(11, 11, 3))
    x = keras.layers.Conv2D(8, 3, name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 5, strides=strides, padding=padding, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))

    out = L1().apply(model)

    assert out.get_layer("conv2_concat").output.shape == model.get_layer("conv2").output.shape
    assert out.get_layer("conv2_squeeze").strides == (strides, strides)


def test_it_resizes_the_next_layer_when_expand_changes_the_width(lenet, digits):
    m = lenet.get_layer("conv2").filters
    out = L1(squeeze=4, expand=m // 4).apply(lenet, targets=["conv2"])
    h, w = lenet.get_layer("pool2").output.shape[1:3]
    original = lenet.get_layer("fc1").get_weights()[0].reshape(h * w, m, -1)
    resized = out.get_layer("fc1").get_weights()[0].reshape(h * w, m // 2, -1)
    # The Fire module's m/2 channels take over the rows of the first m/2 channels.
    np.testing.assert_array_equal(resized, original[:, : m // 2])
    assert out.predict(digits.x_test[:3], verbose=0).shape == (3, digits.num_classes)


def test_it_classifies_digits_after_fine_tuning(lenet, digits):
    # The Fire module starts from random weights, so it gets a brisker step.
    budget = FineTune(epochs=2, batch_size=64, learning_rate=3e-3)
    out = L1().apply(lenet, targets=["conv2"], data=digits, fine_tune=budget)
    assert _accuracy(out, digits) > 0.5


def test_it_leaves_the_input_model_unchanged(lenet, digits, quick):
    before = [w.copy() for w in lenet.get_weights()]
    L1().apply(lenet, data=digits, fine_tune=quick)
    after = lenet.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_it_replaces_every_conv_but_the_first_by_default(alexnet, digits):
    out = L1().apply(alexnet)
    names = {la.name for la in out.layers}
    assert "conv1" in names and {"conv2", "conv3", "conv4", "conv5"}.isdisjoint(names)
    for conv in ("conv2", "conv3", "conv4", "conv5"):
        m = alexnet.get_layer(conv).filters
        assert out.get_layer(f"{conv}_squeeze").filters == m // 8
        assert out.get_layer(f"{conv}_concat").output.shape[-1] == m
    assert out.predict(digits.x_test[:3], verbose=0).shape == (3, digits.num_classes)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"squeeze": 0}, "squeeze"),
        ({"squeeze": 2.5}, "squeeze"),
        ({"expand": -1}, "expand"),
        ({"expand": "half"}, "expand"),
        ({"expand": True}, "expand"),
    ],
)
def test_it_rejects_bad_parameters(params, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        L1(**params)


def test_it_round_trips_its_config():
    technique = L1(squeeze=3, expand=5)
    config = json.loads(json.dumps(technique.get_config()))
    assert config == {"squeeze": 3, "expand": 5}
    assert L1.from_config(config) == technique
    assert L1.default_config() == {"squeeze": None, "expand": None}


def test_it_needs_a_conv2d():
    with pytest.raises(NotApplicableError, match="Conv2D"):
        L1().apply(_dense_only())


def test_it_replaces_the_3x3_convs_of_bottlenecks_and_shrinks_the_model():
    model = graph_models.bottleneck()
    out = L1().apply(model)
    names = {la.name for la in out.layers}
    assert {"b1_2_conv_concat", "b2_2_conv_concat"} <= names and "b1_1_conv" in names
    assert (
        out.get_layer("b1_2_conv_concat").output.shape == model.get_layer("b1_2_conv").output.shape
    )
    assert out.count_params() < model.count_params()


def test_it_lowers_the_squeeze_until_the_module_shrinks_the_layer():
    inputs = keras.Input(shape=(6, 6, 2))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.Conv2D(64, 3, name="wide")(x)  # m = 16 Cin: m/8 squeeze would grow it
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    out = L1().apply(model)
    assert out.get_layer("wide_squeeze").filters < 64 // 8
    assert out.count_params() < model.count_params()


def test_it_refuses_to_widen_or_to_narrow_tied_channels():
    model = graph_models.bottleneck()
    with pytest.raises(NotApplicableError, match="would widen 'b1_2_conv' past 4 channels"):
        L1(expand=4).apply(model, targets=["b1_2_conv"])
    with pytest.raises(NotApplicableError, match="'b1_3_conv' must keep its 12 channels: its"):
        L1(expand=2).apply(model, targets=["b1_3_conv"])


def test_it_refuses_a_network_whose_spatial_convs_are_depthwise_already():
    with pytest.raises(NotApplicableError, match="1x1 and its 1 spatial ones are depthwise"):
        L1().apply(graph_models.inverted_residual())
