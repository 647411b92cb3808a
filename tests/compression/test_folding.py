import keras
import numpy as np
import pytest

from compression.folding import find_folds, folded_weights
from tests.compression.shipped_nets import shipped_net

L = keras.layers


def _with_statistics(norm, seed):
    """Give a BatchNormalization non-trivial gamma, beta and moving statistics."""
    rng = np.random.default_rng(seed)
    size = norm.moving_mean.shape[0]
    norm.set_weights(
        [
            rng.uniform(0.5, 2.0, size),  # gamma
            rng.normal(size=size),  # beta
            rng.normal(size=size),  # moving mean
            rng.uniform(0.1, 3.0, size),  # moving variance
        ]
    )


@pytest.mark.parametrize(
    "layer, shape",
    [
        (L.Conv2D(6, 3, use_bias=False, name="k"), (8, 8, 4)),
        (L.Conv2D(6, 3, strides=2, name="k"), (8, 8, 4)),
        (L.DepthwiseConv2D(3, depth_multiplier=2, name="k"), (8, 8, 4)),
        (L.Dense(5, name="k"), (7,)),
    ],
    ids=["conv-no-bias", "conv-strided-bias", "depthwise-x2", "dense"],
)
def test_it_folds_batchnorm_into_the_layer_before_exactly(layer, shape):
    inputs = keras.Input(shape)
    norm = L.BatchNormalization(name="bn")
    model = keras.Model(inputs, norm(layer(inputs)))
    _with_statistics(norm, seed=1)
    folds = find_folds(model)
    assert folds["k"].norm == "bn" and folds["k"].activation == "linear"
    kernel, bias = folded_weights(layer, norm)
    config = layer.get_config() | {"use_bias": True, "name": "folded"}
    folded = type(layer).from_config(config)
    x = np.random.default_rng(2).normal(size=(3, *shape)).astype("float32")
    folded(x)
    folded.set_weights([kernel, bias])
    np.testing.assert_allclose(folded(x), model(x, training=False), rtol=1e-4, atol=1e-4)


def test_it_fuses_a_sole_relu_and_leaves_outputs_read_twice_unfolded():
    folds = find_folds(shipped_net())
    assert (folds["stem"].norm, folds["stem"].relu, folds["stem"].activation) == (
        "stem_bn",
        "stem_relu",
        "relu6",
    )
    # The depthwise output goes through swish, which TFLite does not fuse.
    assert (folds["dw"].norm, folds["dw"].relu) == ("dw_bn", None)
    # project_bn's output meets the shortcut in an Add: folded, nothing fused.
    assert (folds["project"].norm, folds["project"].relu) == ("project_bn", None)
    # Convolutions with their own activation cannot take a norm after it.
    assert "se_reduce" not in folds and "se_expand" not in folds
    inputs = keras.Input((6, 6, 2))
    conv = L.Conv2D(3, 1, name="conv")(inputs)
    both = L.Add()([L.BatchNormalization(name="bn")(conv), conv])
    assert find_folds(keras.Model(inputs, both)) == {}
