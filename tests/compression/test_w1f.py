import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.w1f import W1f
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
