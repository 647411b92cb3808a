import json

import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.l3 import L3
from compression.training import FineTune
from tests.compression.shipped_nets import shipped_net


def _accuracy(model, data):
    return float(np.mean(model.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test))


def _dense_layers(model):
    return [la.name for la in model.layers if isinstance(la, keras.layers.Dense)]


def _conv_head_model(start: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv1")(inputs)
    x = start(x)
    x = keras.layers.Dense(16, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="fc2")(x))


def test_it_is_registered_under_its_code():
    assert get_technique("L3") is L3


def test_it_swaps_the_dense_head_for_a_1x1_conv_and_global_pooling(lenet):
    cin = lenet.get_layer("pool2").output.shape[-1]
    classes = lenet.get_layer("fc3").units
    out = L3().apply(lenet)

    assert _dense_layers(out) == []
    assert "flatten" not in {la.name for la in out.layers}
    assert out.output_shape == lenet.output_shape
    assert out.get_layer("head_conv").count_params() == cin * classes + classes
    convs = sum(lenet.get_layer(name).count_params() for name in ("conv1", "conv2"))
    assert out.count_params() == convs + cin * classes + classes
    assert isinstance(out.layers[-1], keras.layers.Softmax)


def test_it_beats_chance_on_digits_after_a_short_fine_tune(lenet, digits):
    # The new head starts from random weights: give it three brisk epochs.
    budget = FineTune(epochs=3, batch_size=64, learning_rate=3e-3)
    out = L3().apply(lenet, data=digits, fine_tune=budget)
    assert _accuracy(out, digits) > 0.5


def test_it_leaves_the_input_model_unchanged(lenet, digits, quick):
    before = [w.copy() for w in lenet.get_weights()]
    L3().apply(lenet, data=digits, fine_tune=quick)
    after = lenet.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_it_keeps_the_feature_extractor_weights(alexnet, digits):
    out = L3().apply(alexnet)
    assert _dense_layers(out) == []
    assert out.output_shape == alexnet.output_shape
    for name in ("conv1", "conv3", "conv5"):
        for got, want in zip(
            out.get_layer(name).get_weights(), alexnet.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(got, want)
    assert out.predict(digits.x_test[:2], verbose=0).shape == (2, digits.num_classes)


@pytest.mark.parametrize(
    "start", [keras.layers.Flatten, keras.layers.GlobalAveragePooling2D], ids=lambda c: c.__name__
)
def test_it_replaces_heads_with_dropout_and_any_start(start):
    model = _conv_head_model(start(name="start"))
    out = L3().apply(model)
    assert _dense_layers(out) == [] and "drop" not in {la.name for la in out.layers}
    assert out.get_layer("head_conv").count_params() == 6 * 3 + 3
    assert out.output_shape == model.output_shape


def test_it_accepts_targets_naming_the_dense_head(lenet):
    out = L3().apply(lenet, targets=["fc1", "fc2"])
    assert _dense_layers(out) == []


@pytest.mark.parametrize("targets, message", [(["conv2"], "Dense"), (["fc9"], "no layer")])
def test_it_refuses_targets_outside_the_dense_head(lenet, targets, message):
    with pytest.raises(NotApplicableError, match=message):
        L3().apply(lenet, targets=targets)


def test_it_needs_a_conv2d_feature_map_before_the_head():
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dense(3, name="fc1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x), name="mlp")
    with pytest.raises(NotApplicableError, match="Conv2D"):
        L3().apply(model)


def test_it_round_trips_its_empty_config():
    config = json.loads(json.dumps(L3().get_config()))
    assert config == {}
    assert L3.from_config(config) == L3()


def test_it_takes_no_parameters():
    with pytest.raises(TypeError):
        L3(classes=4)


def test_it_refuses_a_network_that_already_ends_in_global_pooling_and_one_dense():
    model = shipped_net()
    with pytest.raises(NotApplicableError, match="nothing to replace.*'gap'.*'predictions'"):
        L3().apply(model)
    assert "already end in global pooling" in L3.description
