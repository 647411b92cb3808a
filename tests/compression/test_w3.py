import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.w3 import (
    SCHEDULE_EPOCHS,
    W3,
    GradualPruning,
    magnitude_mask,
    polynomial_sparsity,
    pruning_window,
)
from compression.training import FineTune
from tests.compression.shipped_nets import shipped_net


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def kernel(model, name):
    return model.get_layer(name).get_weights()[0]


def sparsity(array):
    return 1.0 - np.count_nonzero(array) / array.size


def accuracy(model, digits):
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == digits.y_test))


def test_it_is_registered_under_its_code_and_round_trips_its_config():
    assert get_technique("W3") is W3
    technique = W3(s=0.6, include_conv=True)
    assert W3.from_config(technique.get_config()) == technique
    assert W3.default_config() == {"threshold": 0.001, "s": None, "include_conv": None}
    assert W3.category == "pruning" and W3.applies_to == "fc"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"s": 0.0}, "s"),
        ({"s": 1.0}, "s"),
        ({"s": -0.2}, "s"),
        ({"s": "0.5"}, "s"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": float("inf")}, "threshold"),
        ({"include_conv": 1}, "include_conv"),
    ],
)
def test_it_rejects_bad_parameters(params, name):
    with pytest.raises(ValueError, match=f"Received: {name}={params[name]!r}"):
        W3(**params)


def test_it_follows_the_cubic_schedule_of_zhu_and_gupta():
    # s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3 with s_i = 0, s_f = 0.8, t0 = 10, n dt = 100.
    assert polynomial_sparsity(10, 0.8, begin=10, end=110) == 0.0
    assert polynomial_sparsity(60, 0.8, begin=10, end=110) == pytest.approx(0.8 - 0.8 * 0.5**3)
    assert polynomial_sparsity(35, 0.8, begin=10, end=110) == pytest.approx(0.8 - 0.8 * 0.75**3)
    assert polynomial_sparsity(110, 0.8, begin=10, end=110) == pytest.approx(0.8)
    assert polynomial_sparsity(500, 0.8, begin=10, end=110) == pytest.approx(0.8)
    assert polynomial_sparsity(0, 0.8, begin=10, end=110) == 0.0
    values = [polynomial_sparsity(t, 0.5, 0, 40) for t in range(41)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="Received: begin=5, end=5"):
        polynomial_sparsity(5, 0.5, 5, 5)


def test_it_ends_the_schedule_before_the_last_epoch():
    # 3 epochs of 40 steps: prune over the first 80 steps, every 8.
    assert pruning_window(epochs=3, steps_per_epoch=40) == (0, 80, 8)
    # A single epoch of 17 steps prunes during its first half.
    assert pruning_window(epochs=1, steps_per_epoch=17) == (0, 8, 1)


def test_it_masks_exactly_the_smallest_magnitudes():
    weights = np.array([[0.5, -0.1, 0.3], [-0.05, 0.9, -0.7]])
    mask = magnitude_mask(weights, 0.5)
    np.testing.assert_array_equal(mask, [[1, 0, 0], [0, 1, 1]])
    assert magnitude_mask(weights, 0.0).all()


@pytest.mark.parametrize("s", [0.2, 0.4, 0.6, 0.8])
def test_it_prunes_one_shot_to_the_target_sparsity_without_data(lenet, s):
    pruned = W3(s=s).apply(lenet)
    assert pruned.count_params() == lenet.count_params()
    for name in ("fc1", "fc2"):
        original, sparse = kernel(lenet, name), kernel(pruned, name)
        assert abs(sparsity(sparse) - s) <= 0.01
        # The survivors are the largest magnitudes, unchanged.
        survivors = sparse != 0
        assert np.abs(original[~survivors]).max() <= np.abs(original[survivors]).min()
        np.testing.assert_array_equal(sparse[survivors], original[survivors])
    for name in ("conv1", "conv2", "fc3"):
        np.testing.assert_array_equal(kernel(pruned, name), kernel(lenet, name))


def test_it_reaches_the_sparsity_gradually_while_fine_tuning(lenet, digits, quick):
    before = weights_of(lenet)
    pruned = W3(s=0.6).apply(lenet, data=digits, fine_tune=quick)
    total_before = sum(kernel(lenet, name).size for name in ("fc1", "fc2"))
    nonzero = 0
    for name in ("fc1", "fc2"):
        sparse = kernel(pruned, name)
        assert abs(sparsity(sparse) - 0.6) <= 0.01, name
        assert np.count_nonzero(pruned.get_layer(name).get_weights()[1]) > 0  # biases kept
        nonzero += np.count_nonzero(sparse)
    assert abs(nonzero - 0.4 * total_before) <= 0.01 * total_before
    assert pruned.count_params() == lenet.count_params()
    assert accuracy(pruned, digits) > 0.5
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_prunes_at_the_scheduled_steps_and_holds_the_mask_afterwards(digits):
    inputs = keras.Input(shape=digits.input_shape)
    x = keras.layers.Dense(16, activation="relu", name="hidden")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    gradual = GradualPruning(["hidden"], final=0.5)
    # 100 samples in batches of 10 for 2 epochs: 20 steps, pruning over the first 10.
    x, y = digits.x_train[:100], digits.y_train[:100]
    model.fit(x, y, batch_size=10, epochs=2, callbacks=[gradual], verbose=0)
    steps = [step for step, _ in gradual.events]
    assert steps == list(range(11))
    assert [s for _, s in gradual.events] == [polynomial_sparsity(t, 0.5, 0, 10) for t in steps]
    assert sparsity(kernel(model, "hidden")) == pytest.approx(
        0.5, abs=1 / kernel(model, "hidden").size
    )


def test_it_zeroes_the_weights_below_the_threshold(lenet):
    pruned = W3(threshold=0.05).apply(lenet)
    for name in ("fc1", "fc2"):
        original = kernel(lenet, name)
        expected = np.where(np.abs(original) < 0.05, 0.0, original)
        np.testing.assert_array_equal(kernel(pruned, name), expected)
        assert 0 < np.count_nonzero(expected) < original.size


def test_it_prunes_convolutions_too_when_asked(lenet):
    pruned = W3(s=0.5, include_conv=True).apply(lenet)
    for name in ("conv1", "conv2", "fc1", "fc2"):
        assert abs(sparsity(kernel(pruned, name)) - 0.5) <= 0.01, name
    np.testing.assert_array_equal(kernel(pruned, "fc3"), kernel(lenet, "fc3"))
    only = W3(s=0.5, include_conv=True).apply(lenet, targets=["conv2"])
    assert abs(sparsity(kernel(only, "conv2")) - 0.5) <= 0.01
    np.testing.assert_array_equal(kernel(only, "fc1"), kernel(lenet, "fc1"))


def test_it_needs_a_dense_layer_when_told_to_keep_to_dense_layers(lenet):
    inputs = keras.Input(shape=(8, 8, 1))
    outputs = keras.layers.Conv2D(2, 3)(inputs)
    dense_only = W3(include_conv=False)
    with pytest.raises(NotApplicableError, match="W3 needs a Dense layer and model 'convs'"):
        dense_only.apply(keras.Model(inputs, outputs, name="convs"))
    with pytest.raises(NotApplicableError, match="Dense layers; layer 'conv2' is Conv2D"):
        dense_only.apply(lenet, targets=["conv2"])
    with pytest.raises(NotApplicableError, match="Depthwise.*layer 'pool1' is MaxPooling2D"):
        W3().apply(lenet, targets=["pool1"])


def test_it_prunes_every_kernel_of_a_network_whose_only_dense_is_the_classifier():
    model = shipped_net()
    pruned = W3(s=0.5).apply(model)
    kinds = {}
    for name in ("stem", "expand", "dw", "se_reduce", "se_expand", "project", "predictions"):
        kinds[type(pruned.get_layer(name)).__name__] = True
        assert abs(sparsity(kernel(pruned, name)) - 0.5) <= 0.01, name
    assert set(kinds) == {"Conv2D", "DepthwiseConv2D", "Dense"}
    # BatchNormalization's scales are not kernels: left as they were.
    np.testing.assert_array_equal(kernel(pruned, "dw_bn"), kernel(model, "dw_bn"))
    assert pruned.count_params() == model.count_params()


def test_it_holds_the_final_sparsity_when_early_stopping_restores_the_best_epoch(lenet, digits):
    budget = FineTune(epochs=SCHEDULE_EPOCHS + 4, patience=1, batch_size=64)
    pruned = W3(s=0.6).apply(lenet, data=digits, fine_tune=budget)
    for name in ("fc1", "fc2"):
        assert abs(sparsity(kernel(pruned, name)) - 0.6) <= 0.01, name
    assert accuracy(pruned, digits) > 0.8
