import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.cl import Cl, SharedCentroids, cluster_values
from compression.training import FineTune
from tests.compression.shipped_nets import rgb_digits, shipped_net

CLUSTERED = ("conv1", "conv2", "fc1", "fc2", "fc3")


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def unique_count(model, name):
    return len(np.unique(keras.ops.convert_to_numpy(model.get_layer(name).kernel)))


def accuracy(model, digits):
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == digits.y_test))


def test_it_is_registered_under_its_code_and_round_trips_its_config():
    assert get_technique("Cl") is Cl
    assert Cl.from_config(Cl(k=8).get_config()) == Cl(k=8)
    assert Cl.default_config() == {"k": 16}


@pytest.mark.parametrize("k", [1, 257, 4.0, True])
def test_it_rejects_a_bad_cluster_count(k):
    with pytest.raises(ValueError, match=f"Received: k={k!r}"):
        Cl(k=k)


def test_it_shares_at_most_k_values_per_kernel_after_fine_tuning(lenet, digits, quick):
    before = weights_of(lenet)
    clustered = Cl(k=16).apply(lenet, data=digits, fine_tune=quick)
    for name in CLUSTERED:
        assert unique_count(clustered, name) <= 16, name
    # fc1 holds 2*2*16 x 120 weights: far more than 16 distinct values before clustering.
    assert unique_count(lenet, "fc1") > 1000
    assert unique_count(clustered, "fc1") == 16
    assert accuracy(clustered, digits) > 0.5
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_leaves_biases_and_untargeted_layers_as_they_were(lenet):
    clustered = Cl(k=4).apply(lenet, targets=["fc1"])
    assert unique_count(clustered, "fc1") == 4
    np.testing.assert_array_equal(
        clustered.get_layer("fc1").get_weights()[1], lenet.get_layer("fc1").get_weights()[1]
    )
    for name in ("conv1", "conv2", "fc2", "fc3"):
        pairs = zip(
            lenet.get_layer(name).get_weights(),
            clustered.get_layer(name).get_weights(),
            strict=True,
        )
        for old, new in pairs:
            np.testing.assert_array_equal(old, new)


def test_it_replaces_each_weight_by_the_nearest_centroid():
    values = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 9.9, 10.0])
    centroids, labels = cluster_values(values, k=3)
    np.testing.assert_allclose(np.sort(centroids), [0.1, 5.05, 9.95], atol=1e-6)
    for value, label in zip(values, labels, strict=True):
        assert np.argmin(np.abs(centroids - value)) == label


def test_it_uses_fewer_clusters_when_a_kernel_has_fewer_distinct_values():
    centroids, labels = cluster_values(np.array([1.0, 1.0, 2.0, 2.0]), k=16)
    assert sorted(centroids.tolist()) == [1.0, 2.0]
    assert len(labels) == 4


def test_it_sets_each_cluster_to_the_mean_of_its_updated_members():
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="d")(inputs))
    labels = np.array([0, 0, 1, 1, 1, 2])
    drifted = np.array([[1.0, 3.0, 0.5], [1.5, 2.5, -4.0]], dtype="float32")
    model.get_layer("d").kernel.assign(drifted)
    SharedCentroids({"d": labels}).share(model)
    flat = drifted.ravel()
    expected = np.array([flat[labels == label].mean() for label in labels])
    np.testing.assert_allclose(model.get_layer("d").get_weights()[0].ravel(), expected, rtol=1e-6)


def test_it_names_a_layer_it_cannot_cluster(lenet):
    with pytest.raises(NotApplicableError, match="layer 'pool1' is MaxPooling2D"):
        Cl().apply(lenet, targets=["pool1"])
    with pytest.raises(NotApplicableError, match="no layer 'fc9'"):
        Cl().apply(lenet, targets=["fc9"])


def test_it_clusters_depthwise_and_convolution_kernels_of_a_shipped_style_network():
    data = rgb_digits()
    model = shipped_net()
    budget = FineTune(epochs=1, batch_size=128)
    clustered = Cl(k=8).apply(model, data=data, fine_tune=budget)
    for name in ("stem", "expand", "dw", "se_reduce", "se_expand", "project", "predictions"):
        values = clustered.get_layer(name).get_weights()[0]
        assert len(np.unique(values)) <= 8, name
        assert not np.array_equal(values, model.get_layer(name).get_weights()[0]), name
    with pytest.raises(NotApplicableError, match="layer 'dw_bn' is BatchNormalization"):
        Cl().apply(model, targets=["dw_bn"])
