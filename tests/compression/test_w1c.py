import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.w1c import W1c


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def accuracy(model, digits):
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == digits.y_test))


def strided_model():
    """conv_a 3x3 -> conv_b 3x3 stride 2 'valid' dilation 1, 24 filters -> dense."""
    inputs = keras.Input(shape=(9, 9, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(24, 3, strides=2, activation="relu", name="conv_b")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x), name="strided")


def test_it_is_registered_under_its_code_and_round_trips_its_config():
    assert get_technique("W1c") is W1c
    assert W1c.from_config(W1c(k=3).get_config()) == W1c(k=3)
    assert W1c.default_config() == {"k": None}
    assert W1c.category == "weight factorization" and W1c.applies_to == "conv"


@pytest.mark.parametrize("k", [0, 1.5, "2", False])
def test_it_rejects_a_bad_rank(k):
    with pytest.raises(ValueError, match=f"Received: k={k!r}"):
        W1c(k=k)


def test_it_factorizes_conv2_of_lenet_by_default(lenet, digits, quick):
    before = weights_of(lenet)
    compressed = W1c().apply(lenet, data=digits, fine_tune=quick)
    names = [la.name for la in compressed.layers]
    assert "conv2" not in names and "conv1" in names
    kh, kw, cin, m = lenet.get_layer("conv2").kernel.shape
    k = max(1, m // 12)
    u = compressed.get_layer("conv2_svd_u")
    v = compressed.get_layer("conv2_svd_v")
    assert u.kernel.shape == (kh, kw, cin, k) and not u.use_bias
    assert v.kernel.shape == (1, 1, k, m) and v.bias.shape == (m,)
    assert u.count_params() + v.count_params() == kh * kw * cin * k + k * m + m
    assert accuracy(compressed, digits) > 0.5
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_factorizes_conv2_to_conv5_of_alexnet(alexnet):
    compressed = W1c().apply(alexnet)
    expected = alexnet.count_params()
    for name in ("conv2", "conv3", "conv4", "conv5"):
        kh, kw, cin, m = alexnet.get_layer(name).kernel.shape
        k = m // 12
        pair = compressed.get_layer(f"{name}_svd_u"), compressed.get_layer(f"{name}_svd_v")
        assert sum(la.count_params() for la in pair) == kh * kw * cin * k + k * m + m
        expected -= kh * kw * cin * m - (kh * kw * cin * k + k * m)
    assert compressed.count_params() == expected
    assert compressed.get_layer("conv1").kernel.shape == alexnet.get_layer("conv1").kernel.shape


def test_it_reproduces_a_rank_k_convolution_exactly_with_its_strides_and_padding():
    model = strided_model()
    conv = model.get_layer("conv_b")
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(3 * 3 * 4, 3)) @ rng.normal(size=(3, 24))
    conv.kernel.assign(low_rank.reshape(3, 3, 4, 24).astype("float32"))
    compressed = W1c(k=3).apply(model)
    u = compressed.get_layer("conv_b_svd_u")
    assert u.strides == (2, 2) and u.padding == "valid"
    x = rng.normal(size=(5, 9, 9, 2)).astype("float32")
    np.testing.assert_allclose(
        compressed.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-3
    )


def test_it_keeps_most_predictions_at_almost_full_rank(lenet, digits):
    compressed = W1c(k=15).apply(lenet, targets=["conv2"])
    same = compressed.predict(digits.x_test, verbose=0).argmax(axis=1) == lenet.predict(
        digits.x_test, verbose=0
    ).argmax(axis=1)
    assert same.mean() > 0.98


def test_it_refuses_a_rank_that_would_not_shrink_the_layer(lenet):
    # conv1 is 5x5x1 -> 6: 25 x 6, so k must stay below 6.
    with pytest.raises(NotApplicableError, match=r"conv1.*\(25 x 6\).*Received: k=6"):
        W1c(k=6).apply(lenet, targets=["conv1"])


def test_it_needs_a_conv2d_layer(lenet):
    inputs = keras.Input(shape=(4,))
    dense_only = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="mlp")
    with pytest.raises(NotApplicableError, match="W1c needs a Conv2D layer and model 'mlp'"):
        W1c().apply(dense_only)
    with pytest.raises(NotApplicableError, match="Conv2D layers; layer 'fc1' is Dense"):
        W1c().apply(lenet, targets=["fc1"])


def test_it_explains_why_a_single_convolution_is_not_a_default_target():
    inputs = keras.Input(shape=(6, 6, 1))
    x = keras.layers.Conv2D(24, 3, name="lonely")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="one")
    with pytest.raises(NotApplicableError, match="only 'lonely'"):
        W1c().apply(model)
    assert W1c(k=2).apply(model, targets=["lonely"]).get_layer("lonely_svd_u").filters == 2
