import dataclasses
import time

import numpy as np
import pytest

from compression.baseline import train_baseline


def _weights_equal(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


def test_it_trains_lenet_on_8x8_digits_past_95_percent_within_a_minute(digits):
    start = time.perf_counter()
    model = train_baseline("lenet", digits)
    elapsed = time.perf_counter() - start
    accuracy = float(
        np.mean(model.predict(digits.x_test, verbose=0).argmax(axis=1) == digits.y_test)
    )
    assert accuracy >= 0.95
    assert elapsed < 60


@pytest.fixture
def few(digits):
    """The first 256 training digits: enough for a seeded epoch, quick to fit."""
    return dataclasses.replace(digits, x_train=digits.x_train[:256], y_train=digits.y_train[:256])


def test_it_gives_identical_weights_for_the_same_seed(few):
    first = train_baseline("lenet", few, epochs=1, seed=5)
    second = train_baseline("lenet", few, epochs=1, seed=5)
    assert _weights_equal(first, second)


def test_it_draws_different_initial_weights_for_another_seed(digits):
    one = train_baseline("lenet", digits, epochs=0, seed=5)
    other = train_baseline("lenet", digits, epochs=0, seed=6)
    assert not _weights_equal(one, other)


def test_it_returns_an_uncompiled_model_that_was_trained(few):
    untrained = train_baseline("lenet", few, epochs=0, seed=1)
    trained = train_baseline("lenet", few, epochs=1, seed=1)
    # Same seed, so the same starting point: any difference comes from training.
    assert not _weights_equal(untrained, trained)
    assert not trained.compiled
    assert getattr(trained, "optimizer", None) is None


def test_it_passes_architecture_options_through(digits):
    model = train_baseline("vgg", digits, epochs=0, width=0.5)
    assert model.get_layer("block1_conv1").filters == 8


def test_it_validates_the_budget(digits):
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        train_baseline("lenet", digits, learning_rate=0.0)


def test_it_trains_a_batchnorm_network_whose_inference_matches_its_training(digits):
    # With Keras' default BatchNormalization momentum (0.99) the moving statistics
    # are still near (0, 1) after a few hundred steps and inference answers one class.
    model = train_baseline("mobilenet", digits, epochs=8, alpha=0.25)
    accuracy = float(
        np.mean(model.predict(digits.x_test, verbose=0).argmax(axis=1) == digits.y_test)
    )
    assert accuracy >= 0.6
    norms = [la for la in model.layers if la.__class__.__name__ == "BatchNormalization"]
    assert norms and all(la.momentum == 0.99 for la in norms)
