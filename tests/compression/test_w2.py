import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.w2 import W2, sparse_factors
from tests.compression.shipped_nets import SIDE, rgb_digits, shipped_net


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def accuracy(model, digits):
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == digits.y_test))


def kernel(model, name):
    return model.get_layer(name).get_weights()[0]


def test_it_is_registered_under_its_code_and_round_trips_its_config():
    assert get_technique("W2") is W2
    assert W2.from_config(W2(k=4, alpha=0.5).get_config()) == W2(k=4, alpha=0.5)
    assert W2.default_config() == {"k": None, "alpha": 1.0}
    assert W2.category == "weight factorization" and W2.applies_to == "fc"


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), "1", True])
def test_it_rejects_a_non_positive_sparsity_penalty(alpha):
    with pytest.raises(ValueError, match="Received: alpha="):
        W2(alpha=alpha)


@pytest.mark.parametrize("k", [0, 3.0])
def test_it_rejects_a_bad_dictionary_size(k):
    with pytest.raises(ValueError, match=f"Received: k={k!r}"):
        W2(k=k)


def test_it_codes_fc1_and_fc2_sparsely_on_an_m_over_6_dictionary(lenet, digits, quick):
    before = weights_of(lenet)
    start = W2().apply(lenet)
    tuned = W2().apply(lenet, data=digits, fine_tune=quick)
    for name in ("fc1", "fc2"):
        n, m = lenet.get_layer(name).kernel.shape
        k = m // 6
        codes = kernel(tuned, f"{name}_codes")
        atoms = tuned.get_layer(f"{name}_atoms")
        assert codes.shape == (n, k) and not tuned.get_layer(f"{name}_codes").use_bias
        assert atoms.kernel.shape == (k, m) and atoms.get_config()["activation"] == "relu"
        # Storage is nnz(A) + k*m + bias; the codes must really be sparse.
        nnz = np.count_nonzero(codes)
        assert 0 < nnz < n * k
        stored = nnz + atoms.count_params()
        assert stored == nnz + k * m + m
        # Every zero of the learned codes is still zero after fine-tuning.
        zeros = kernel(start, f"{name}_codes") == 0
        assert zeros.any() and np.all(codes[zeros] == 0)
        # ... and fine-tuning did move the weights it was allowed to move.
        assert not np.array_equal(codes, kernel(start, f"{name}_codes"))
    assert accuracy(tuned, digits) > 0.5
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_approximates_the_kernel_by_codes_times_dictionary(lenet):
    coded = W2().apply(lenet, targets=["fc2"])
    original = kernel(lenet, "fc2")
    product = kernel(coded, "fc2_codes") @ kernel(coded, "fc2_atoms")
    # Much closer than the trivial all-zero approximation.
    assert np.linalg.norm(original - product) < 0.9 * np.linalg.norm(original)
    np.testing.assert_array_equal(
        coded.get_layer("fc2_atoms").get_weights()[1], lenet.get_layer("fc2").get_weights()[1]
    )
    np.testing.assert_array_equal(kernel(coded, "fc1"), kernel(lenet, "fc1"))


def test_it_codes_more_sparsely_with_a_larger_penalty():
    rng = np.random.default_rng(0)
    weights = rng.normal(scale=0.05, size=(40, 30))
    loose, _ = sparse_factors(weights, k=5, alpha=0.2)
    tight, _ = sparse_factors(weights, k=5, alpha=2.0)
    assert np.count_nonzero(tight) < np.count_nonzero(loose)


def test_it_recovers_a_kernel_that_is_sparse_on_a_small_dictionary():
    rng = np.random.default_rng(1)
    atoms = rng.normal(size=(4, 30))
    codes = rng.normal(size=(60, 4)) * (rng.random((60, 4)) < 0.4)
    weights = 0.1 * codes @ atoms
    found_codes, found_atoms = sparse_factors(weights, k=4, alpha=0.05)
    error = np.linalg.norm(weights - found_codes @ found_atoms) / np.linalg.norm(weights)
    assert error < 0.2
    assert np.count_nonzero(found_codes) < found_codes.size


def test_it_needs_a_dense_layer(lenet):
    inputs = keras.Input(shape=(8, 8, 1))
    outputs = keras.layers.Conv2D(2, 3)(inputs)
    with pytest.raises(NotApplicableError, match="W2 needs a Dense layer and model 'convs'"):
        W2().apply(keras.Model(inputs, outputs, name="convs"))
    with pytest.raises(NotApplicableError, match="Dense layers; layer 'pool1' is MaxPooling2D"):
        W2().apply(lenet, targets=["pool1"])


def test_it_factorizes_the_classifier_head_when_it_is_the_only_dense_layer():
    model = shipped_net()
    out = W2().apply(model)
    first = out.get_layer("predictions_codes").get_weights()[0]
    assert first.shape == (32, 5)  # k defaults to half the 10 classes on a head
    assert out.get_layer("predictions_atoms").output.shape[-1] == 10
    assert out.count_params() < model.count_params()
    assert "predictions" not in {layer.name for layer in out.layers}


def test_it_codes_the_1x1_convolutions_of_a_pooled_head_and_keeps_their_zeros(quick):
    """MobileNetV3-style head: global pooling, then 1x1 convolutions and no Dense layer."""
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu", name="body")(inputs)
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = keras.layers.Conv2D(48, 1, activation="relu", name="fc")(x)
    x = keras.layers.Conv2D(10, 1, activation="softmax", name="logits")(x)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    start = W2().apply(model)  # the hidden head layer by default, k = 48 / 6
    tuned = W2().apply(model, data=rgb_digits(), fine_tune=quick)
    codes = tuned.get_layer("fc_codes").get_weights()[0]
    assert codes.shape == (1, 1, 32, 8)
    assert tuned.get_layer("fc_atoms").kernel.shape == (1, 1, 8, 48)
    assert {"logits", "body"} <= {layer.name for layer in tuned.layers}
    zeros = start.get_layer("fc_codes").get_weights()[0] == 0
    assert zeros.any() and np.all(codes[zeros] == 0)  # the mask followed the 4-D kernel
    assert not np.array_equal(codes, start.get_layer("fc_codes").get_weights()[0])
