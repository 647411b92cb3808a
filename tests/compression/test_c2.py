import json

import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.c2 import C2
from tests.compression import graph_models


def _accuracy(model, data):
    return float(np.mean(model.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test))


def _dense_only():
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dense(3, name="fc1")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x), name="mlp")


def _kernel_shape(model, name):
    return tuple(model.get_layer(name).get_weights()[0].shape)


def test_it_is_registered_under_its_code():
    assert get_technique("C2") is C2


def test_it_makes_conv2_depthwise_separable_with_the_documented_param_count(lenet):
    kh, kw, cin, m = _kernel_shape(lenet, "conv2")
    narrow = round(0.5 * m)
    out = C2(alpha=0.5).apply(lenet, targets=["conv2"])

    dw, pw = out.get_layer("conv2_dw"), out.get_layer("conv2_pw")
    assert isinstance(dw, keras.layers.DepthwiseConv2D)
    assert "conv2" not in [la.name for la in out.layers]
    assert pw.filters == narrow
    assert dw.count_params() == kh * kw * cin  # depthwise kernel, no bias
    assert pw.count_params() == cin * narrow + narrow
    # fc1 reads the flattened pool2 map, which now has `narrow` channels.
    h, w = lenet.get_layer("pool2").output.shape[1:3]
    units = lenet.get_layer("fc1").units
    assert out.get_layer("fc1").count_params() == h * w * narrow * units + units
    removed = (kh * kw * cin * m + m) + h * w * (m - narrow) * units
    added = kh * kw * cin + cin * narrow + narrow
    assert out.count_params() == lenet.count_params() - removed + added


def test_it_keeps_the_output_spatial_shape(lenet):
    out = C2().apply(lenet, targets=["conv2"])
    assert out.get_layer("conv2_pw").output.shape[1:3] == lenet.get_layer("conv2").output.shape[1:3]
    assert out.output_shape == lenet.output_shape


def test_it_leaves_the_input_model_unchanged(lenet):
    before = [w.copy() for w in lenet.get_weights()]
    C2().apply(lenet)
    after = lenet.get_weights()
    assert len(before) == len(after)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_it_reproduces_a_separable_conv_whose_weakest_filters_are_zero():
    rng = np.random.default_rng(0)
    inputs = keras.Input(shape=(6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = keras.Model(inputs, keras.layers.Dense(5, name="fc")(x))
    # Each input channel's slice is rank 1 (taps x filters); filters 1 and 3
    # are zero, so alpha=0.5 keeps filters 0 and 2 and loses nothing.
    taps, mix = rng.normal(size=(3, 3, 3)), rng.normal(size=(3, 4))
    mix[:, [1, 3]] = 0
    kernel = np.einsum("hwc,cm->hwcm", taps, mix).astype("float32")
    model.get_layer("conv_b").set_weights([kernel, np.array([0.1, 0, -0.1, 0], "float32")])
    x_in = rng.normal(size=(8, 6, 6, 2)).astype("float32")

    out = C2(alpha=0.5).apply(model, targets=["conv_b"])

    assert out.get_layer("conv_b_pw").filters == 2
    expected = model.predict(x_in, verbose=0)
    np.testing.assert_allclose(out.predict(x_in, verbose=0), expected, atol=1e-5)


def test_it_narrows_the_next_conv_to_the_kept_filters(alexnet):
    out = C2(alpha=0.5).apply(alexnet, targets=["conv2"])
    conv2 = alexnet.get_layer("conv2").get_weights()[0]
    norms = np.abs(conv2).sum(axis=(0, 1, 2))
    kept = np.sort(np.argsort(-norms)[: round(0.5 * conv2.shape[-1])])
    original = alexnet.get_layer("conv3").get_weights()
    resized = out.get_layer("conv3").get_weights()
    np.testing.assert_array_equal(resized[0], original[0][:, :, kept, :])
    np.testing.assert_array_equal(resized[1], original[1])


def test_it_chains_every_conv_but_the_first_on_alexnet(alexnet, digits):
    out = C2(alpha=0.5).apply(alexnet)
    names = [la.name for la in out.layers]
    assert "conv1" in names
    for conv in ("conv2", "conv3", "conv4", "conv5"):
        assert conv not in names
        kh, kw, cin, m = _kernel_shape(alexnet, conv)
        narrow_in = cin if conv == "conv2" else round(0.5 * cin)  # producer was narrowed
        assert _kernel_shape(out, f"{conv}_dw") == (kh, kw, narrow_in, 1)
        assert _kernel_shape(out, f"{conv}_pw") == (1, 1, narrow_in, round(0.5 * m))
    h, w, channels = alexnet.get_layer("pool3").output.shape[1:]
    assert _kernel_shape(out, "fc1")[0] == h * w * round(0.5 * channels)
    assert out.predict(digits.x_test[:4], verbose=0).shape == (4, digits.num_classes)


def test_it_classifies_digits_after_fine_tuning(lenet, digits, quick):
    out = C2().apply(lenet, targets=["conv2"], data=digits, fine_tune=quick)
    assert _accuracy(out, digits) > 0.5


def test_it_narrows_the_batch_norm_and_conv_after_a_bottlenecks_3x3_conv():
    model = graph_models.bottleneck()
    out = C2(alpha=0.5).apply(model)
    # b1_2_conv and b2_2_conv (3x3, 4 filters) become separable with 2 filters;
    # their batch norms and the 1x1 convs reading them narrow to 2 channels.
    assert out.get_layer("b1_2_conv_pw").filters == 2
    assert out.get_layer("b1_2_bn").get_weights()[0].shape == (2,)
    assert out.get_layer("b1_3_conv").kernel.shape == (1, 1, 2, 12)
    assert "b2_2_conv" not in [la.name for la in out.layers]
    assert out.count_params() < model.count_params()
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    assert out.predict(x, verbose=0).shape == (2, 3)


def test_it_refuses_a_target_it_would_not_shrink():
    # b1_3_conv is 1x1 and feeds the residual add, so it keeps its 12 filters:
    # a depthwise 1x1 plus a full pointwise conv is larger than the conv was.
    with pytest.raises(NotApplicableError, match="'b1_3_conv' keeping 12 filters.*no fewer"):
        C2(alpha=0.5).apply(graph_models.bottleneck(), targets=["b1_3_conv"])


def test_it_keeps_a_tied_spatial_conv_at_full_width():
    inputs = keras.Input(shape=(6, 6, 4))
    a = keras.layers.Conv2D(8, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(8, 3, padding="same", name="b")(a)
    merged = keras.layers.Add(name="merge")([a, b])
    head = keras.layers.Dense(2, activation="softmax", name="head")
    model = keras.Model(inputs, head(keras.layers.GlobalAveragePooling2D()(merged)))
    out = C2(alpha=0.5).apply(model, targets=["b"])
    assert out.get_layer("b_pw").filters == 8
    assert out.get_layer("merge").output.shape[-1] == 8


def test_it_refuses_a_network_whose_spatial_convs_are_depthwise_already():
    with pytest.raises(NotApplicableError, match="has none besides its first \\('stem'\\)"):
        C2().apply(graph_models.inverted_residual())


@pytest.mark.parametrize("alpha", [0, -0.5, 1.5, "half", True, None])
def test_it_rejects_a_bad_alpha(alpha):
    with pytest.raises(ValueError, match="Received: alpha="):
        C2(alpha=alpha)


def test_it_round_trips_its_config():
    technique = C2(alpha=0.25)
    config = json.loads(json.dumps(technique.get_config()))
    assert config == {"alpha": 0.25}
    assert C2.from_config(config) == technique
    assert C2.default_config() == {"alpha": 0.5}


def test_it_needs_a_conv2d():
    with pytest.raises(NotApplicableError, match="Conv2D"):
        C2().apply(_dense_only())
