import json

import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.c1 import C1


def _accuracy(model, data):
    return float(np.mean(model.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test))


def _dense_only():
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dense(3, name="fc1")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x), name="mlp")


def _output_of(model, name, x):
    return keras.Model(model.inputs, model.get_layer(name).output).predict(x, verbose=0)


def test_it_is_registered_under_its_code():
    assert get_technique("C1") is C1


def test_it_splits_conv2_into_a_basis_and_sparse_kernels_with_the_documented_count(lenet):
    kh, kw, cin, m = lenet.get_layer("conv2").get_weights()[0].shape
    out = C1(sparsity=0.7).apply(lenet, targets=["conv2"])

    basis, sparse = out.get_layer("conv2_basis"), out.get_layer("conv2_sparse")
    assert basis.get_weights()[0].shape == (1, 1, cin, cin)  # basis = Cin by default
    kernel = sparse.get_weights()[0]
    assert kernel.shape == (kh, kw, cin, m)
    nonzero = np.count_nonzero(kernel)
    assert nonzero == kh * kw * cin * m - round(0.7 * kh * kw * cin * m)
    # Cin*Cin' + nnz(kernels): the 1x1 basis has no bias; the kernels keep the m biases.
    assert basis.count_params() == cin * cin
    assert sparse.count_params() == kh * kw * cin * m + m
    assert sparse.output.shape[1:] == lenet.get_layer("conv2").output.shape[1:]


def test_it_uses_a_smaller_basis_when_asked(lenet):
    cin = lenet.get_layer("conv2").get_weights()[0].shape[2]
    out = C1(basis=3).apply(lenet, targets=["conv2"])
    assert out.get_layer("conv2_basis").count_params() == cin * 3
    assert out.get_layer("conv2_sparse").get_weights()[0].shape[2] == 3


@pytest.mark.parametrize("sparsity, tolerance", [(0.0, 1e-4), (0.01, 0.01)])
def test_it_approximates_the_original_conv_when_barely_sparse(lenet, digits, sparsity, tolerance):
    out = C1(sparsity=sparsity).apply(lenet, targets=["conv2"])
    expected = _output_of(lenet, "conv2", digits.x_test)
    got = _output_of(out, "conv2_sparse", digits.x_test)
    assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < tolerance


def test_it_holds_the_sparsity_through_fine_tuning_and_still_classifies(lenet, digits, quick):
    out = C1(sparsity=0.7).apply(lenet, targets=["conv2"], data=digits, fine_tune=quick)
    kernel = out.get_layer("conv2_sparse").get_weights()[0]
    assert abs(np.mean(kernel == 0) - 0.7) <= 0.01
    assert _accuracy(out, digits) > 0.5


def test_it_leaves_the_input_model_unchanged(lenet, digits, quick):
    before = [w.copy() for w in lenet.get_weights()]
    C1().apply(lenet, data=digits, fine_tune=quick)
    after = lenet.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_it_decomposes_every_conv_but_the_first_by_default(alexnet):
    out = C1().apply(alexnet)
    names = {la.name for la in out.layers}
    assert "conv1" in names
    for conv in ("conv2", "conv3", "conv4", "conv5"):
        assert conv not in names
        assert {f"{conv}_basis", f"{conv}_sparse"} <= names


def test_it_refuses_a_basis_larger_than_the_input_channels(lenet):
    cin = lenet.get_layer("conv2").get_weights()[0].shape[2]
    with pytest.raises(NotApplicableError, match=f"Received: basis={cin + 1}"):
        C1(basis=cin + 1).apply(lenet, targets=["conv2"])


@pytest.mark.parametrize(
    "params, name",
    [
        ({"basis": 0}, "basis"),
        ({"basis": 2.5}, "basis"),
        ({"basis": True}, "basis"),
        ({"sparsity": 1.0}, "sparsity"),
        ({"sparsity": -0.1}, "sparsity"),
        ({"sparsity": "most"}, "sparsity"),
    ],
)
def test_it_rejects_bad_parameters(params, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        C1(**params)


def test_it_round_trips_its_config():
    technique = C1(basis=4, sparsity=0.5)
    config = json.loads(json.dumps(technique.get_config()))
    assert config == {"basis": 4, "sparsity": 0.5}
    assert C1.from_config(config) == technique
    assert C1.default_config() == {"basis": None, "sparsity": 0.7}


def test_it_needs_a_conv2d():
    with pytest.raises(NotApplicableError, match="Conv2D"):
        C1().apply(_dense_only())
