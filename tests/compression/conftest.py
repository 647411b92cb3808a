"""Shared fixtures: the bundled digits and small trained baselines.

Models are trained once per test session (a few seconds on 2 cores) and each
test gets the same trained weights; techniques never mutate their input, and
the tests that check that compare against these fixtures.
"""

from __future__ import annotations

import keras
import pytest

from compression.data import Dataset, load_digits
from compression.training import FineTune, fine_tune
from compression.zoo import build


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return load_digits(seed=0)


@pytest.fixture(scope="session")
def lenet(digits: Dataset) -> keras.Model:
    # Seeded and for a fixed number of epochs, so its quality does not depend on
    # which test asked for it first (the global seed state) or on early stopping.
    keras.utils.set_random_seed(0)
    model = build("lenet", digits.input_shape, digits.num_classes)
    return fine_tune(model, digits, FineTune(epochs=15, learning_rate=3e-3, patience=None))


@pytest.fixture(scope="session")
def alexnet(digits: Dataset) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = build("alexnet", digits.input_shape, digits.num_classes)
    return fine_tune(model, digits, FineTune(epochs=8, learning_rate=1e-3, patience=None))


@pytest.fixture
def quick() -> FineTune:
    """The fine-tuning budget techniques get in tests: one short epoch."""
    return FineTune(epochs=1, batch_size=64, seed=0)


@pytest.fixture(scope="session")
def digits_program(digits: Dataset):
    """A residual CNN with BatchNorm trained on digits in PyTorch, as a ``.pt2`` taking NCHW.

    Built in a spawn child (see torch_programs): torch never loads in the test process.
    """
    from compression.formats.pt2 import TorchProgram
    from tests.compression.torch_programs import in_child

    content = in_child("residual_cnn_pt2", digits.x_train, digits.y_train, 6, True)
    return TorchProgram(content, "residual_cnn.pt2")


@pytest.fixture(scope="session")
def digits_conversion(digits_program, digits: Dataset):
    """``digits_program`` converted to ``.tflite`` by litert-torch (in a child process)."""
    from compression.formats.pt2 import convert_pt2

    return convert_pt2(digits_program, digits.x_val)
