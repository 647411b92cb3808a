import json

import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.c3 import C3
from tests.compression.shipped_nets import shipped_net


def _accuracy(model, data):
    return float(np.mean(model.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test))


def _dense_only():
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dense(3, name="fc1")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x), name="mlp")


def _pattern(model, name="conv2_rand"):
    return model.get_layer(name).get_weights()[0] != 0


def test_it_is_registered_under_its_code():
    assert get_technique("C3") is C3


def test_it_keeps_one_minus_theta_of_the_connections(lenet):
    kh, kw, cin, m = lenet.get_layer("conv2").get_weights()[0].shape
    out = C3(theta=0.75).apply(lenet, targets=["conv2"])
    layer = out.get_layer("conv2_rand")
    assert layer.count_params() == kh * kw * cin * m + m  # same dense shape
    assert layer.output.shape[1:] == lenet.get_layer("conv2").output.shape[1:]
    assert np.count_nonzero(_pattern(out)) == kh * kw * round(0.25 * cin * m)


def test_it_uses_one_connection_pattern_for_every_kernel_tap(lenet):
    pattern = _pattern(C3().apply(lenet, targets=["conv2"]))
    assert (pattern == pattern[:1, :1]).all()


def test_it_repeats_the_mask_for_a_seed_and_changes_it_for_another(lenet):
    first = _pattern(C3(seed=0).apply(lenet, targets=["conv2"]))
    again = _pattern(C3(seed=0).apply(lenet, targets=["conv2"]))
    other = _pattern(C3(seed=1).apply(lenet, targets=["conv2"]))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_it_keeps_at_least_one_input_per_output_channel(lenet):
    kh, kw, cin, m = lenet.get_layer("conv2").get_weights()[0].shape
    assert round(0.05 * cin * m) < m  # so theta=0.95 alone would starve some outputs
    pattern = _pattern(C3(theta=0.95).apply(lenet, targets=["conv2"]))
    assert (pattern[0, 0].sum(axis=0) >= 1).all()
    assert np.count_nonzero(pattern) == kh * kw * m


def test_it_holds_the_mask_through_fine_tuning_and_still_classifies(lenet, digits, quick):
    before = _pattern(C3().apply(lenet, targets=["conv2"]))
    tuned = C3().apply(lenet, targets=["conv2"], data=digits, fine_tune=quick)
    np.testing.assert_array_equal(_pattern(tuned), before)
    assert _accuracy(tuned, digits) > 0.5


def test_it_leaves_the_input_model_unchanged(lenet, digits, quick):
    before = [w.copy() for w in lenet.get_weights()]
    C3().apply(lenet, data=digits, fine_tune=quick)
    after = lenet.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_it_thins_every_conv_but_the_first_by_default_with_different_masks(alexnet):
    out = C3().apply(alexnet)
    names = {la.name for la in out.layers}
    assert "conv1" in names and {"conv2", "conv3", "conv4", "conv5"}.isdisjoint(names)
    conv4, conv5 = _pattern(out, "conv4_rand"), _pattern(out, "conv5_rand")
    # conv4 and conv5 are both 48 inputs; their masks differ though the seed is shared.
    assert (conv4[0, 0, :, :32] != conv5[0, 0]).any()


@pytest.mark.parametrize(
    "params, name",
    [
        ({"theta": 1.0}, "theta"),
        ({"theta": -0.25}, "theta"),
        ({"theta": "most"}, "theta"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_it_rejects_bad_parameters(params, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        C3(**params)


def test_it_round_trips_its_config():
    technique = C3(theta=0.5, seed=7)
    config = json.loads(json.dumps(technique.get_config()))
    assert config == {"theta": 0.5, "seed": 7}
    assert C3.from_config(config) == technique
    assert C3.default_config() == {"theta": 0.75, "seed": 0}


def test_it_thins_named_dense_layers_and_refuses_depthwise_ones_with_the_reason(lenet):
    out = C3(theta=0.5).apply(lenet, targets=["fc1"])
    thinned = out.get_layer("fc1_rand").get_weights()[0]
    assert abs(np.mean(thinned == 0) - 0.5) <= 0.01
    assert (thinned != 0).any(axis=0).all()  # every output keeps an input
    model = shipped_net()
    with pytest.raises(NotApplicableError, match="'dw' already connects each output to a single"):
        C3().apply(model, targets=["dw"])
    default = C3().apply(model)
    names = {layer.name for layer in default.layers}
    assert {"expand_rand", "se_reduce_rand", "se_expand_rand", "project_rand"} <= names
    assert {"stem", "dw"} <= names  # the first conv and the depthwise one are left alone
    assert default.count_params() == model.count_params()


def test_it_needs_a_conv2d():
    with pytest.raises(NotApplicableError, match="Conv2D"):
        C3().apply(_dense_only())
