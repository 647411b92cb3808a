import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.ps import Ps, strongest_filters


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def accuracy(model, digits):
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == digits.y_test))


def kept_by_l1(kernel, keep):
    """The ``keep`` filters of largest L1 norm, in index order, computed filter by filter."""
    norms = [np.abs(kernel[..., f]).sum() for f in range(kernel.shape[-1])]
    return sorted(sorted(range(len(norms)), key=lambda f: -norms[f])[:keep])


def copy_of(model):
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def silence(model, name, kept):
    """Zero the filters of ``name`` that are not kept (kernel and bias)."""
    layer = model.get_layer(name)
    kernel, bias = layer.get_weights()
    dropped = [f for f in range(kernel.shape[-1]) if f not in kept]
    kernel[..., dropped], bias[dropped] = 0.0, 0.0
    layer.set_weights([kernel, bias])


def batchnorm_model():
    """c (3x3, 6 filters) -> bn -> relu -> pool -> flatten -> dropout -> head."""
    inputs = keras.Input(shape=(4, 4, 2))
    x = keras.layers.Conv2D(6, 3, padding="same", name="c")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Dropout(0.1, name="drop")(keras.layers.Flatten(name="flat")(x))
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="bn_net")
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.weights])
    return model


def test_it_is_registered_under_its_code_and_round_trips_its_config():
    assert get_technique("Ps") is Ps
    assert Ps.from_config(Ps(fraction=0.25).get_config()) == Ps(fraction=0.25)
    assert Ps.default_config() == {"fraction": 0.5}
    assert Ps.category == "pruning" and Ps.applies_to == "conv"


@pytest.mark.parametrize("fraction", [0, 1, -0.5, 1.5, "0.5", True])
def test_it_rejects_a_fraction_outside_zero_one(fraction):
    with pytest.raises(ValueError, match=f"Received: fraction={fraction!r}"):
        Ps(fraction=fraction)


def test_it_removes_half_the_filters_of_conv1_and_conv2_and_shrinks_their_readers(lenet):
    before = weights_of(lenet)
    pruned = Ps().apply(lenet)
    k1, b1 = lenet.get_layer("conv1").get_weights()
    k2, b2 = lenet.get_layer("conv2").get_weights()
    fc1 = lenet.get_layer("fc1").get_weights()[0]
    keep1, keep2 = kept_by_l1(k1, 6 - 3), kept_by_l1(k2, 16 - 8)
    np.testing.assert_array_equal(pruned.get_layer("conv1").get_weights()[0], k1[..., keep1])
    np.testing.assert_array_equal(pruned.get_layer("conv1").get_weights()[1], b1[keep1])
    np.testing.assert_array_equal(
        pruned.get_layer("conv2").get_weights()[0], k2[:, :, keep1, :][..., keep2]
    )
    # fc1 reads a Flatten of (2, 2, 16): rows h*2*16 + w*16 + c for the kept c.
    rows = [h * 2 * 16 + w * 16 + c for h in range(2) for w in range(2) for c in keep2]
    np.testing.assert_array_equal(pruned.get_layer("fc1").get_weights()[0], fc1[rows])
    removed = (5 * 5 * 1 * 3 + 3) + (5 * 5 * 6 * 16 - 5 * 5 * 3 * 8 + 8) + (64 - 32) * 120
    assert pruned.count_params() == lenet.count_params() - removed
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_computes_what_the_model_with_the_removed_filters_silenced_computes(lenet, digits):
    pruned = Ps(fraction=0.5).apply(lenet)
    silenced = copy_of(lenet)
    for name, keep in (("conv1", 3), ("conv2", 8)):
        silence(silenced, name, kept_by_l1(lenet.get_layer(name).get_weights()[0], keep))
    np.testing.assert_allclose(
        pruned.predict(digits.x_test, verbose=0),
        silenced.predict(digits.x_test, verbose=0),
        atol=1e-5,
    )


def test_it_still_classifies_digits_after_fine_tuning(lenet, digits, quick):
    pruned = Ps().apply(lenet, data=digits, fine_tune=quick)
    assert pruned.get_layer("conv2").kernel.shape == (5, 5, 3, 8)
    assert accuracy(pruned, digits) > 0.5


def test_it_keeps_at_least_one_filter():
    kernel = np.arange(2 * 2 * 1 * 4, dtype="float32").reshape(2, 2, 1, 4)
    assert strongest_filters(kernel, 0.99).tolist() == [3]
    assert strongest_filters(kernel, 0.3).tolist() == [1, 2, 3]


def test_it_shrinks_batch_norm_entries_and_follows_flatten_through_dropout():
    model = batchnorm_model()
    pruned = Ps(fraction=0.5).apply(model, targets=["c"])
    keep = kept_by_l1(model.get_layer("c").get_weights()[0], 3)
    for old, new in zip(
        model.get_layer("bn").get_weights(), pruned.get_layer("bn").get_weights(), strict=True
    ):
        np.testing.assert_array_equal(new, old[keep])
    rows = [h * 2 * 6 + w * 6 + c for h in range(2) for w in range(2) for c in keep]
    head = model.get_layer("head").get_weights()[0]
    np.testing.assert_array_equal(pruned.get_layer("head").get_weights()[0], head[rows])
    # Zeroing beta and the mean of the removed channels' batch norm silences them.
    silenced = copy_of(model)
    gamma, beta, mean, variance = silenced.get_layer("bn").get_weights()
    dropped = [c for c in range(6) if c not in keep]
    beta[dropped], mean[dropped] = 0.0, 0.0
    silenced.get_layer("bn").set_weights([gamma, beta, mean, variance])
    silence(silenced, "c", keep)
    x = np.random.default_rng(1).normal(size=(4, 4, 4, 2)).astype("float32")
    np.testing.assert_allclose(
        pruned.predict(x, verbose=0), silenced.predict(x, verbose=0), atol=1e-5
    )


def fork_model():
    """stem -> (left 3x3, right 1x1) -> add -> global pooling -> softmax head."""
    inputs = keras.Input(shape=(6, 6, 1))
    stem = keras.layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    left = keras.layers.Conv2D(6, 3, padding="same", name="left")(stem)
    right = keras.layers.Conv2D(6, 1, name="right")(stem)
    merged = keras.layers.Add(name="merge")([left, right])
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(merged)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(pooled)
    model = keras.Model(inputs, outputs, name="fork")
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    return model


def test_it_prunes_the_inputs_of_a_residual_add_alike_by_their_summed_norms():
    model = fork_model()
    pruned = Ps(fraction=0.5).apply(model)
    left, right = (model.get_layer(n).get_weights()[0] for n in ("left", "right"))
    summed = np.abs(left).sum(axis=(0, 1, 2)) + np.abs(right).sum(axis=(0, 1, 2))
    keep = sorted(np.argsort(-summed)[:3].tolist())
    stem_keep = kept_by_l1(model.get_layer("stem").get_weights()[0], 2)
    np.testing.assert_array_equal(
        pruned.get_layer("left").get_weights()[0], left[:, :, stem_keep][..., keep]
    )
    np.testing.assert_array_equal(
        pruned.get_layer("right").get_weights()[0], right[:, :, stem_keep][..., keep]
    )
    head = model.get_layer("head").get_weights()[0]
    np.testing.assert_array_equal(pruned.get_layer("head").get_weights()[0], head[keep])
    silenced = copy_of(model)
    silence(silenced, "stem", stem_keep)
    silence(silenced, "left", keep)
    silence(silenced, "right", keep)
    x = np.random.default_rng(1).normal(size=(3, 6, 6, 1)).astype("float32")
    np.testing.assert_allclose(
        pruned.predict(x, verbose=0), silenced.predict(x, verbose=0), atol=1e-5
    )


def test_it_refuses_a_target_whose_channels_must_keep_their_width():
    inputs = keras.Input(shape=(6, 6, 1))
    a = keras.layers.Conv2D(4, 3, name="a")(inputs)
    odd = keras.layers.Lambda(lambda t: t[..., ::-1], name="flip")(a)
    model = keras.Model(inputs, keras.layers.Flatten()(odd), name="odd")
    with pytest.raises(NotApplicableError, match=r"'a': layer 'flip' \(Lambda\) is an operation"):
        Ps().apply(model, targets=["a"])
    with pytest.raises(NotApplicableError, match="no Conv2D layer whose filters it can remove"):
        Ps().apply(model)


def test_it_prunes_every_group_of_a_keras_mobilenet_v2():
    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), classes=10, alpha=0.35
    )
    pruned = Ps(fraction=0.5).apply(model)
    assert pruned.count_params() < 0.5 * model.count_params()
    for name in ("Conv1", "block_1_expand", "block_16_project", "Conv_1"):
        assert pruned.get_layer(name).filters == model.get_layer(name).filters // 2
    # Residual streams are pruned alike: each block's project keeps the add's width.
    assert pruned.get_layer("block_2_add").output.shape[-1] == 4
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    assert pruned.predict(x, verbose=0).shape == (2, 10)


def test_it_prunes_only_the_convolutions_it_can_follow_by_default():
    inputs = keras.Input(shape=(6, 6, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(6, 3, padding="same", name="b")(a)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(b)
    model = keras.Model([inputs], [keras.layers.Dense(2, name="out")(pooled), a], name="two_out")
    pruned = Ps(fraction=0.5).apply(model)
    assert pruned.get_layer("a").filters == 4  # a is a model output: left alone
    assert pruned.get_layer("b").filters == 3
    keep = kept_by_l1(model.get_layer("b").get_weights()[0], 3)
    head = model.get_layer("out").get_weights()[0]
    np.testing.assert_array_equal(pruned.get_layer("out").get_weights()[0], head[keep])


def test_it_needs_a_conv2d_layer(lenet):
    inputs = keras.Input(shape=(4,))
    dense_only = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="mlp")
    with pytest.raises(NotApplicableError, match="Ps needs a Conv2D layer and model 'mlp'"):
        Ps().apply(dense_only)
    with pytest.raises(NotApplicableError, match="Conv2D layers; layer 'fc1' is Dense"):
        Ps().apply(lenet, targets=["fc1"])
