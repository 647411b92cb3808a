import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.w1f import W1f, svd_factors
from compression.zoo import build
from tests.compression.shipped_nets import shipped_net


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def accuracy(model, digits):
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == digits.y_test))


def test_it_is_registered_under_its_code_and_round_trips_its_config():
    assert get_technique("W1f") is W1f
    assert W1f.from_config(W1f(k=5).get_config()) == W1f(k=5)
    assert W1f.default_config() == {"k": None}
    assert W1f.category == "weight factorization" and W1f.applies_to == "fc"


@pytest.mark.parametrize("k", [0, -3, 2.5, "4", True])
def test_it_rejects_a_bad_rank(k):
    with pytest.raises(ValueError, match=f"Received: k={k!r}"):
        W1f(k=k)


def test_it_replaces_fc1_and_fc2_by_rank_m_over_12_factors(lenet, digits, quick):
    before = weights_of(lenet)
    compressed = W1f().apply(lenet, data=digits, fine_tune=quick)
    names = [la.name for la in compressed.layers]
    assert "fc1" not in names and "fc2" not in names
    for name in ("fc1", "fc2"):
        n, m = lenet.get_layer(name).kernel.shape
        k = m // 12
        u = compressed.get_layer(f"{name}_svd_u")
        v = compressed.get_layer(f"{name}_svd_v")
        assert u.kernel.shape == (n, k) and not u.use_bias
        assert v.kernel.shape == (k, m) and v.bias.shape == (m,)
        assert u.count_params() + v.count_params() == k * (n + m) + m
        assert v.get_config()["activation"] == "relu"
    # Untouched layers keep their parameter counts; the whole model shrinks accordingly.
    saved = sum(
        n * m - (m // 12) * (n + m)
        for n, m in (lenet.get_layer(name).kernel.shape for name in ("fc1", "fc2"))
    )
    assert compressed.count_params() == lenet.count_params() - saved
    assert accuracy(compressed, digits) > 0.5
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_starts_from_the_best_rank_k_approximation(lenet):
    compressed = W1f(k=6).apply(lenet, targets=["fc2"])
    kernel, bias = lenet.get_layer("fc2").get_weights()
    product = compressed.get_layer("fc2_svd_u").kernel @ compressed.get_layer("fc2_svd_v").kernel
    # Eckart-Young: the Frobenius error of the best rank-6 approximation is the
    # norm of the discarded singular values.
    singular = np.linalg.svd(kernel, compute_uv=False)
    error = np.linalg.norm(kernel - keras.ops.convert_to_numpy(product))
    np.testing.assert_allclose(error, np.linalg.norm(singular[6:]), rtol=1e-4)
    np.testing.assert_array_equal(compressed.get_layer("fc2_svd_v").get_weights()[1], bias)
    np.testing.assert_array_equal(
        compressed.get_layer("fc1").get_weights()[0], lenet.get_layer("fc1").get_weights()[0]
    )


def test_it_nearly_keeps_the_predictions_at_almost_full_rank(lenet, digits):
    n, m = lenet.get_layer("fc2").kernel.shape
    compressed = W1f(k=min(n, m) - 1).apply(lenet, targets=["fc2"])
    expected = lenet.predict(digits.x_test, verbose=0)
    got = compressed.predict(digits.x_test, verbose=0)
    assert np.mean(expected.argmax(axis=1) == got.argmax(axis=1)) > 0.98


def test_it_refuses_a_rank_that_would_not_shrink_the_layer(lenet):
    with pytest.raises(NotApplicableError, match=r"fc2.*\(120 x 84\).*Received: k=84"):
        W1f(k=84).apply(lenet, targets=["fc2"])


def test_it_needs_a_dense_layer(lenet):
    inputs = keras.Input(shape=(8, 8, 1))
    outputs = keras.layers.Conv2D(2, 3, name="only_conv")(inputs)
    with pytest.raises(NotApplicableError, match="W1f needs a Dense layer and model 'convs'"):
        W1f().apply(keras.Model(inputs, outputs, name="convs"))
    with pytest.raises(NotApplicableError, match="Dense layers; layer 'conv1' is Conv2D"):
        W1f().apply(lenet, targets=["conv1"])


def test_it_factorizes_the_classifier_head_when_it_is_the_only_dense_layer():
    model = shipped_net()
    out = W1f().apply(model)
    first = out.get_layer("predictions_svd_u").get_weights()[0]
    assert first.shape == (32, 5)  # k defaults to half the 10 classes on a head
    assert out.get_layer("predictions_svd_v").output.shape[-1] == 10
    assert out.count_params() < model.count_params()
    assert "predictions" not in {layer.name for layer in out.layers}


def test_it_factorizes_the_1x1_convolutions_of_a_pooled_head_as_dense_layers():
    """MobileNetV3 has no Dense layer: its head is global pooling, then 1x1 convolutions."""
    model = build("MobileNetV3Small", (32, 32, 3), 10)
    out = W1f().apply(model)
    u = out.get_layer("conv_2_svd_u").get_weights()[0]
    v = out.get_layer("conv_2_svd_v").get_weights()[0]
    assert u.shape == (1, 1, 576, 85) and v.shape == (1, 1, 85, 1024)  # k = 1024 // 12
    left, right = svd_factors(model.get_layer("conv_2").get_weights()[0].reshape(576, 1024), 85)
    np.testing.assert_allclose(u.reshape(576, 85) @ v.reshape(85, 1024), left @ right, atol=1e-5)
    assert "logits" in {layer.name for layer in out.layers}  # the classifier is left alone
    assert out.count_params() < model.count_params()
    # Body convolutions are not the head, even where the map is 1x1 at this input size.
    with pytest.raises(NotApplicableError, match="layer 'conv_1' is Conv2D"):
        W1f().apply(model, targets=["conv_1"])


def test_it_factorizes_a_convolutional_classifier_when_the_head_has_no_other_layer():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = keras.layers.Conv2D(10, 1, activation="softmax", name="logits")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    rng = np.random.default_rng(0)
    rank_5 = (rng.normal(size=(32, 5)) @ rng.normal(size=(5, 10))).reshape(1, 1, 32, 10)
    model.get_layer("logits").set_weights([rank_5.astype("float32"), np.zeros(10, "float32")])
    out = W1f().apply(model)
    assert out.get_layer("logits_svd_u").get_weights()[0].shape == (1, 1, 32, 5)  # half the classes
    # A rank-5 kernel factorized at rank 5: the same function, as two 1x1 convolutions.
    sample = rng.random((4, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        out.predict(sample, verbose=0), model.predict(sample, verbose=0), atol=1e-5
    )
