import json

import keras
import numpy as np
import pytest

from compression.analysis import analyze_keras
from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.c1 import C1
from tests.compression.shipped_nets import shipped_net


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
    out = C1(basis=cin, sparsity=0.7).apply(lenet, targets=["conv2"])

    basis, sparse = out.get_layer("conv2_basis"), out.get_layer("conv2_sparse")
    assert basis.get_weights()[0].shape == (1, 1, cin, cin)
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
    cin = lenet.get_layer("conv2").get_weights()[0].shape[2]
    out = C1(basis=cin, sparsity=sparsity).apply(lenet, targets=["conv2"])
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


def test_it_picks_by_default_the_largest_basis_that_shrinks_the_layer(lenet):
    kh, kw, cin, m = lenet.get_layer("conv2").get_weights()[0].shape  # 5x5, 6 -> 16
    out = C1().apply(lenet, targets=["conv2"])
    size = out.get_layer("conv2_basis").get_weights()[0].shape[-1]
    pair = (
        out.get_layer("conv2_basis").count_params() + out.get_layer("conv2_sparse").count_params()
    )
    assert pair < lenet.get_layer("conv2").count_params()
    # One more basis channel would cost more weights than the layer has.
    assert (size + 1) * (cin + kh * kw * m) >= kh * kw * cin * m
    assert size == 5


def test_it_bounds_the_basis_by_what_pca_can_find_in_a_1x1_projection():
    # A 1x1 projection 24 -> 8 gives PCA 8 samples of 24 channels: at most 8 directions.
    inputs = keras.Input((6, 6, 24))
    x = keras.layers.Conv2D(24, 3, padding="same", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(8, 1, name="project")(x))
    with pytest.raises(NotApplicableError, match=r"min\(Cin, kh\*kw\*m\) = 8.*basis=10"):
        C1(basis=10).apply(model, targets=["project"])
    out = C1().apply(model, targets=["project"])
    assert out.get_layer("project_basis").get_weights()[0].shape == (1, 1, 24, 5)


def test_it_never_grows_a_shipped_style_network_by_default():
    model = shipped_net()
    before = analyze_keras(model)
    out = C1().apply(model)
    after = analyze_keras(out)
    assert after["params"] < before["params"] and after["macs"] < before["macs"]
    assert after["nonzero_params"] < before["nonzero_params"]
    decomposed = {la.name[: -len("_basis")] for la in out.layers if la.name.endswith("_basis")}
    # The stem is skipped (first conv); squeeze-excite's 1x1 convs on 1x1 maps shrink too.
    assert decomposed == {"expand", "se_reduce", "se_expand", "project"}


def test_it_refuses_a_named_conv_that_no_basis_can_shrink():
    # 1x1, 2 -> 2: one basis channel costs 2 + 2 weights, as many as the layer's 4.
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="tiny")(x))
    with pytest.raises(NotApplicableError, match="cannot shrink layer 'tiny'"):
        C1().apply(model, targets=["tiny"])


def test_it_decomposes_mobilenetv2_without_growing_it():
    # The one keras.applications network of the test suite: its 1x1 projections
    # crashed scikit-learn's PCA ("n_components=32 must be between 0 and 16").
    model = keras.applications.MobileNetV2(
        alpha=0.35, weights=None, input_shape=(32, 32, 3), classes=10
    )
    before = analyze_keras(model)
    out = C1().apply(model)
    after = analyze_keras(out)
    assert after["params"] < before["params"] and after["macs"] < before["macs"]
    bases = [la for la in out.layers if la.name.endswith("_basis")]
    assert len(bases) > 20
    for basis in bases:
        _, _, cin, size = basis.get_weights()[0].shape
        sparse = out.get_layer(basis.name.replace("_basis", "_sparse")).get_weights()[0]
        kh, kw, _, m = sparse.shape
        assert size <= min(cin, kh * kw * m)


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
