"""Small models, one per construct of real networks, for the channel-graph tests.

Each is built with random weights (batch norms with random statistics) so that
no channel is silent by accident; ``silence`` zeroes chosen channels the way
the equivalence tests need.
"""

from __future__ import annotations

import keras
import numpy as np

L = keras.layers


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    """Give every weight a random value; variances stay positive."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.2, 1.2, w.shape).astype("float32") for w in model.weights])
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            shape = gamma.shape
            layer.set_weights([gamma, rng.normal(size=shape), rng.normal(size=shape), var])
        elif layer.weights:
            kernel, *rest = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape).astype("float32"), *rest])
    return model


def silence(model: keras.Model, channels: dict[str, list[int]]) -> keras.Model:
    """A copy of ``model`` whose named layers output zero on the given channels.

    A Conv/Dense loses those filters and biases; a batch norm gets gamma and
    beta 0 there (so it outputs 0 whatever its input); a depthwise conv loses
    those channels' kernels and biases.
    """
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    for name, cut in channels.items():
        layer = twin.get_layer(name)
        weights = layer.get_weights()
        if isinstance(layer, L.BatchNormalization):
            weights[0][cut], weights[1][cut] = 0.0, 0.0
        elif isinstance(layer, L.DepthwiseConv2D):
            weights[0][:, :, cut, :] = 0.0
            for extra in weights[1:]:
                extra[cut] = 0.0
        else:
            weights[0][..., cut] = 0.0
            for extra in weights[1:]:
                extra[cut] = 0.0
        layer.set_weights(weights)
    return twin


def head(x: object) -> object:
    return L.Dense(3, activation="softmax", name="head")(L.GlobalAveragePooling2D(name="gap")(x))


def inverted_residual() -> keras.Model:
    """MobileNetV2's block: expand 1x1, BN, ReLU6, pad + depthwise, BN, ReLU6, project, BN, add."""
    inputs = keras.Input(shape=(8, 8, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(inputs)
    x = L.ReLU(6.0, name="stem_relu")(L.BatchNormalization(name="stem_bn")(x))
    y = L.Conv2D(24, 1, use_bias=False, name="expand")(x)
    y = L.ReLU(6.0, name="expand_relu")(L.BatchNormalization(name="expand_bn")(y))
    y = L.ZeroPadding2D(1, name="pad")(y)
    y = L.DepthwiseConv2D(3, use_bias=False, name="dw")(y)
    y = L.ReLU(6.0, name="dw_relu")(L.BatchNormalization(name="dw_bn")(y))
    y = L.Conv2D(8, 1, use_bias=False, name="project")(y)
    y = L.BatchNormalization(name="project_bn")(y)
    x = L.Add(name="add")([x, y])
    return randomized(keras.Model(inputs, head(x), name="inverted_residual"))


def bottleneck() -> keras.Model:
    """Two ResNet bottlenecks, the first with a projection shortcut, into Flatten + Dense."""
    inputs = keras.Input(shape=(6, 6, 3))
    x = L.Activation("relu", name="stem_relu")(
        L.BatchNormalization(name="stem_bn")(L.Conv2D(8, 3, name="stem")(inputs))
    )
    for block, project in (("b1", True), ("b2", False)):
        shortcut = x
        if project:
            shortcut = L.Conv2D(12, 1, name=f"{block}_0_conv")(x)
            shortcut = L.BatchNormalization(name=f"{block}_0_bn")(shortcut)
        y = x
        for part, (width, size) in enumerate(((4, 1), (4, 3), (12, 1)), start=1):
            y = L.Conv2D(width, size, padding="same", name=f"{block}_{part}_conv")(y)
            y = L.BatchNormalization(name=f"{block}_{part}_bn")(y)
            if part < 3:
                y = L.Activation("relu", name=f"{block}_{part}_relu")(y)
        x = L.Activation("relu", name=f"{block}_out")(L.Add(name=f"{block}_add")([shortcut, y]))
    x = L.Flatten(name="flat")(L.MaxPooling2D(2, name="pool")(x))
    outputs = L.Dense(3, activation="softmax", name="head")(x)
    return randomized(keras.Model(inputs, outputs, name="bottleneck"))


def squeeze_excite() -> keras.Model:
    """EfficientNet's SE (GAP, Reshape, reduce, expand, sigmoid) and MobileNetV3's hard one."""
    inputs = keras.Input(shape=(8, 8, 3))
    x = L.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(x)
    x = L.Activation("swish", name="stem_act")(L.BatchNormalization(name="stem_bn")(x))
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = L.Activation("hard_swish", name="dw_act")(L.BatchNormalization(name="dw_bn")(x))
    se = L.Reshape((1, 1, 8), name="se_reshape")(L.GlobalAveragePooling2D(name="se_pool")(x))
    se = L.Conv2D(4, 1, activation="swish", name="se_reduce")(se)
    se = L.Conv2D(8, 1, activation="sigmoid", name="se_expand")(se)
    x = L.Multiply(name="se_excite")([x, se])
    x = L.BatchNormalization(name="project_bn")(L.Conv2D(6, 1, name="project")(x))
    gate = L.GlobalAveragePooling2D(keepdims=True, name="se2_pool")(x)
    gate = L.ReLU(name="se2_relu")(L.Conv2D(3, 1, name="se2_reduce")(gate))
    gate = L.Conv2D(6, 1, name="se2_expand")(gate)
    gate = L.ReLU(6.0, name="se2_relu6")(gate + 3.0) * (1.0 / 6.0)  # keras.ops, not layers
    x = L.Multiply(name="se2_excite")([x, gate])
    x = L.Dropout(0.2, noise_shape=(None, 1, 1, 1), name="drop")(x)
    return randomized(keras.Model(inputs, head(x), name="squeeze_excite"))


def dense_block() -> keras.Model:
    """DenseNet: each layer's output is concatenated to its input; a transition follows."""
    inputs = keras.Input(shape=(8, 8, 3))
    x = L.Conv2D(6, 3, padding="same", name="stem")(inputs)
    for index, size in ((1, 3), (2, 1)):
        y = L.Activation("relu", name=f"l{index}_relu")(
            L.BatchNormalization(name=f"l{index}_bn")(x)
        )
        y = L.Conv2D(4, size, padding="same", name=f"l{index}_conv")(y)
        x = L.Concatenate(name=f"l{index}_concat")([x, y])
    x = L.Activation("relu", name="t_relu")(L.BatchNormalization(name="t_bn")(x))
    x = L.AveragePooling2D(2, name="t_pool")(L.Conv2D(5, 1, name="t_conv")(x))
    return randomized(keras.Model(inputs, head(x), name="dense_block"))


def silence_classes(model: keras.Model, graph: object, removed: set[int]) -> keras.Model:
    """``silence`` the channels of ``removed`` classes in every producer and member."""
    channels: dict[str, list[int]] = {}
    for group in graph.groups:
        for name in group.producers:
            classes = graph.output_classes(name)
            channels[name] = [i for i, c in enumerate(classes) if c in removed]
        for name in group.members:
            classes = graph.input_classes(name)
            channels[name] = [i for i, c in enumerate(classes) if c in removed]
    return silence(model, {name: cut for name, cut in channels.items() if cut})
