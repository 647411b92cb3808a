import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.surgery import copy_model, resolve_targets


def test_it_copies_a_model_with_identical_predictions(lenet, digits):
    copy = copy_model(lenet)
    assert copy is not lenet
    np.testing.assert_allclose(
        copy.predict(digits.x_test, verbose=0), lenet.predict(digits.x_test, verbose=0), atol=1e-6
    )


def test_it_defaults_to_every_dense_layer_but_the_output(lenet):
    assert [la.name for la in resolve_targets(lenet, None, "fc", "W1f")] == ["fc1", "fc2"]


def test_it_names_the_layer_kind_a_technique_needs(lenet):
    with pytest.raises(NotApplicableError, match="Dense layers; layer 'conv1' is Conv2D"):
        resolve_targets(lenet, ["conv1"], "fc", "W1f")


def test_it_names_a_missing_layer(lenet):
    with pytest.raises(NotApplicableError, match="no layer 'conv9'"):
        resolve_targets(lenet, ["conv9"], "conv", "C2")
