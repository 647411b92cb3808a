import json

import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.l2 import L2, mlpconv_init
from tests.compression import graph_models


def _accuracy(model, data):
    return float(np.mean(model.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test))


def _dense_only():
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dense(3, name="fc1")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x), name="mlp")


def test_it_is_registered_under_its_code():
    assert get_technique("L2") is L2


def test_it_builds_the_micro_network_with_the_documented_param_count(lenet):
    kh, kw, cin, m = lenet.get_layer("conv2").get_weights()[0].shape
    h = m // 2
    out = L2().apply(lenet, targets=["conv2"])

    assert out.get_layer("conv2_conv").count_params() == kh * kw * cin * h + h
    assert out.get_layer("conv2_mlp1").count_params() == h * h + h
    assert out.get_layer("conv2_mlp2").count_params() == h * m + m
    assert out.get_layer("conv2_mlp2").output.shape == lenet.get_layer("conv2").output.shape


def test_it_matches_the_nin_formula_on_a_3x3_conv(alexnet):
    kh, kw, cin, m = alexnet.get_layer("conv3").get_weights()[0].shape
    assert (kh, kw) == (3, 3)
    out = L2().apply(alexnet, targets=["conv3"])
    block = sum(out.get_layer(f"conv3_{part}").count_params() for part in ("conv", "mlp1", "mlp2"))
    # 9*Cin*m/2 + (m/2)^2 + (m/2)*m, plus biases m/2 + m/2 + m.
    assert block == 9 * cin * m // 2 + (m // 2) ** 2 + (m // 2) * m + 2 * m


def test_it_starts_as_the_original_conv_when_the_kernel_has_low_rank():
    rng = np.random.default_rng(0)
    inputs = keras.Input(shape=(6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    # m = 8 gives 4 hidden filters, room for a rank-2 kernel, split by sign.
    kernel = (rng.normal(size=(36, 2)) @ rng.normal(size=(2, 8))).reshape(3, 3, 4, 8)
    model.get_layer("conv2").set_weights([kernel.astype("float32"), np.full(8, 0.1, "float32")])
    x_in = rng.normal(size=(5, 6, 6, 3)).astype("float32")

    out = L2().apply(model)

    expected = model.predict(x_in, verbose=0)
    np.testing.assert_allclose(out.predict(x_in, verbose=0), expected, atol=1e-4)


def test_it_classifies_digits_after_fine_tuning(lenet, digits, quick):
    out = L2().apply(lenet, targets=["conv2"], data=digits, fine_tune=quick)
    assert _accuracy(out, digits) > 0.5


def test_it_leaves_the_input_model_unchanged(lenet, digits, quick):
    before = [w.copy() for w in lenet.get_weights()]
    L2().apply(lenet, data=digits, fine_tune=quick)
    after = lenet.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_it_replaces_every_conv_but_the_first_by_default(alexnet):
    out = L2().apply(alexnet)
    names = {la.name for la in out.layers}
    assert "conv1" in names and {"conv2", "conv3", "conv4", "conv5"}.isdisjoint(names)
    for conv in ("conv2", "conv3", "conv4", "conv5"):
        m = alexnet.get_layer(conv).filters
        assert out.get_layer(f"{conv}_conv").filters == m // 2
        assert out.get_layer(f"{conv}_mlp2").filters == m
    assert out.output_shape == alexnet.output_shape


def test_it_round_trips_its_empty_config():
    config = json.loads(json.dumps(L2().get_config()))
    assert config == {}
    assert L2.from_config(config) == L2()


def test_it_takes_no_parameters():
    with pytest.raises(TypeError):
        L2(hidden=4)


def test_it_needs_a_conv2d():
    with pytest.raises(NotApplicableError, match="Conv2D"):
        L2().apply(_dense_only())


def test_it_initialises_a_pointwise_conv_wider_than_its_rank_without_crashing():
    # A 1x1 conv from 16 to 96 channels has rank <= 16: 48 hidden filters hold it exactly.
    kernel = np.random.default_rng(0).normal(size=(1, 1, 16, 96)).astype("float32")
    first, middle, last = mlpconv_init(kernel, hidden=48)
    # Input channel i alone (x = e_i) must give kernel row i through relu, 1x1, 1x1.
    hidden = np.maximum(np.eye(16) @ first.reshape(16, 48), 0)
    rebuilt = hidden @ middle.reshape(48, 48) @ last.reshape(48, 96)
    np.testing.assert_allclose(rebuilt, kernel.reshape(16, 96), atol=1e-4)


def test_it_lowers_the_hidden_width_so_a_pointwise_target_still_shrinks():
    inputs = keras.Input(shape=(4, 4, 16))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.Conv2D(96, 1, name="wide")(keras.layers.Conv2D(16, 1, name="mid")(x))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    out = L2().apply(model, targets=["wide"])
    assert out.get_layer("wide_conv").filters == 12  # 12^2 + 114*12 + 96 < 16*96 + 96
    assert out.count_params() < model.count_params()
    tiny_in = keras.Input(shape=(4, 4, 2))
    tiny = keras.Model(tiny_in, keras.layers.Conv2D(2, 1, name="tiny")(tiny_in))
    with pytest.raises(NotApplicableError, match="no Mlpconv block for 'tiny' has fewer .* 6"):
        L2().apply(tiny, targets=["tiny"])


def test_it_replaces_the_3x3_convs_of_bottlenecks_keeping_their_width():
    model = graph_models.bottleneck()
    out = L2().apply(model)
    for name in ("b1_2_conv", "b2_2_conv"):
        assert out.get_layer(f"{name}_mlp2").filters == 4
    assert out.count_params() < model.count_params()
    with pytest.raises(NotApplicableError, match="none besides its first"):
        L2().apply(graph_models.inverted_residual())
