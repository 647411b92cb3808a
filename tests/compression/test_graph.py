"""The channel graph: its groups, and the equivalence proof of its surgery.

The proof: silence some channels of a group (zero the filters that make them
and the per-channel weights that carry them), then remove those channels with
``narrow``: the network must compute the same outputs.
"""

import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.graph import ChannelGraph, narrow
from tests.compression import graph_models as models

X = np.random.default_rng(7).normal(size=(4, 8, 8, 3)).astype("float32")


def removed_classes(graph, layer, channels):
    return graph.output_classes(layer)[channels].tolist()


def assert_same_outputs(narrowed, silenced, x=X):
    np.testing.assert_allclose(
        narrowed.predict(x, verbose=0), silenced.predict(x, verbose=0), atol=1e-5
    )


def test_it_ties_the_residual_stream_of_an_inverted_residual_block():
    graph = ChannelGraph(models.inverted_residual())
    stream = graph.group_of("project")
    assert set(stream.producers) == {"stem", "project"}
    assert set(stream.members) == {"stem_bn", "project_bn"}
    assert set(stream.consumers) == {"expand", "head"}
    expanded = graph.group_of("expand")
    assert set(expanded.members) == {"expand_bn", "dw", "dw_bn"}
    assert expanded.consumers == ("project",) and expanded.width == 24
    assert graph.group_of("head").blocked == (
        "layer 'head' (Dense) ends in a softmax, which mixes channels"
    )


def test_it_removes_residual_channels_from_every_block_without_changing_outputs():
    model = models.inverted_residual()
    graph = ChannelGraph(model)
    narrowed = narrow(graph, removed_classes(graph, "stem", [1, 5]))
    cut = [1, 5]
    silenced = models.silence(
        model, {"stem": cut, "stem_bn": cut, "project": cut, "project_bn": cut}
    )
    assert narrowed.get_layer("project").filters == 6
    assert narrowed.get_layer("expand").kernel.shape == (1, 1, 6, 24)
    assert_same_outputs(narrowed, silenced)


def test_it_narrows_the_expansion_through_the_depthwise_conv_without_changing_outputs():
    model = models.inverted_residual()
    graph = ChannelGraph(model)
    cut = [0, 7, 20]
    narrowed = narrow(graph, removed_classes(graph, "expand", cut))
    silenced = models.silence(model, {"expand": cut, "expand_bn": cut, "dw": cut, "dw_bn": cut})
    assert narrowed.get_layer("dw").kernel.shape == (3, 3, 21, 1)
    assert narrowed.get_layer("project").kernel.shape == (1, 1, 21, 8)
    assert_same_outputs(narrowed, silenced)


def test_it_prunes_a_bottleneck_with_a_projection_shortcut_into_flatten():
    model = models.bottleneck()
    graph = ChannelGraph(model)
    stream = graph.group_of("b1_0_conv")
    assert set(stream.producers) == {"b1_0_conv", "b1_3_conv", "b2_3_conv"}
    cut = [0, 4, 11]
    narrowed = narrow(graph, removed_classes(graph, "b1_3_conv", cut))
    layers = ["b1_0_conv", "b1_0_bn", "b1_3_conv", "b1_3_bn", "b2_3_conv", "b2_3_bn"]
    silenced = models.silence(model, {name: cut for name in layers})
    # The head reads a Flatten of (2, 2, 12): 4 positions x 9 channels remain.
    assert narrowed.get_layer("head").kernel.shape == (4 * 9, 3)
    assert_same_outputs(narrowed, silenced, X[:, :6, :6])


def test_it_prunes_the_spatial_conv_inside_a_bottleneck():
    model = models.bottleneck()
    graph = ChannelGraph(model)
    assert graph.group_of("b2_2_conv").consumers == ("b2_3_conv",)
    narrowed = narrow(graph, removed_classes(graph, "b2_2_conv", [2]))
    silenced = models.silence(model, {"b2_2_conv": [2], "b2_2_bn": [2]})
    assert narrowed.get_layer("b2_3_conv").kernel.shape == (1, 1, 3, 12)
    assert_same_outputs(narrowed, silenced, X[:, :6, :6])


def test_it_lets_the_squeeze_excite_scale_follow_the_channels_it_scales():
    model = models.squeeze_excite()
    graph = ChannelGraph(model)
    scaled = graph.group_of("stem")
    assert set(scaled.producers) == {"stem", "se_expand"}
    assert set(scaled.consumers) == {"se_reduce", "project"}
    assert set(graph.group_of("project").producers) == {"project", "se2_expand"}
    cut = [2, 3]
    narrowed = narrow(graph, removed_classes(graph, "stem", cut))
    silenced = models.silence(
        model, {"stem": cut, "stem_bn": cut, "dw": cut, "dw_bn": cut, "se_expand": cut}
    )
    assert narrowed.get_layer("se_reshape").target_shape == (1, 1, 6)
    assert_same_outputs(narrowed, silenced)


def test_it_prunes_the_hard_squeeze_excite_and_its_reduction():
    model = models.squeeze_excite()
    graph = ChannelGraph(model)
    removed = removed_classes(graph, "project", [0, 5]) + removed_classes(graph, "se_reduce", [1])
    narrowed = narrow(graph, removed)
    silenced = models.silence(
        model,
        {"project": [0, 5], "project_bn": [0, 5], "se2_expand": [0, 5], "se_reduce": [1]},
    )
    assert narrowed.get_layer("se_expand").kernel.shape == (1, 1, 3, 8)
    assert_same_outputs(narrowed, silenced)


def test_it_removes_concatenated_channels_at_their_offsets():
    model = models.dense_block()
    graph = ChannelGraph(model)
    assert set(graph.group_of("stem").members) == {"l1_bn", "l2_bn", "t_bn"}
    assert set(graph.group_of("l1_conv").consumers) == {"l2_conv", "t_conv"}
    removed = removed_classes(graph, "stem", [4]) + removed_classes(graph, "l1_conv", [1, 2])
    narrowed = narrow(graph, removed)
    # l1_conv's channels sit at 6..9 after the first concatenation.
    silenced = models.silence(
        model,
        {
            "stem": [4],
            "l1_bn": [4],
            "l1_conv": [1, 2],
            "l2_bn": [4, 7, 8],
            "t_bn": [4, 7, 8],
        },
    )
    assert narrowed.get_layer("t_conv").kernel.shape == (1, 1, 14 - 3, 5)
    assert_same_outputs(narrowed, silenced)


def test_it_pins_channels_that_reach_an_unknown_operation_and_names_it():
    inputs = keras.Input(shape=(6, 6, 2))
    a = keras.layers.Conv2D(4, 3, name="a")(inputs)
    b = keras.layers.Conv2D(4, 1, name="b")(a)
    odd = keras.layers.Lambda(lambda t: t[..., ::-1], name="flip")(b)
    model = keras.Model(inputs, models.head(odd), name="odd")
    graph = ChannelGraph(model)
    assert graph.group_of("a").blocked is None
    assert graph.group_of("b").blocked == (
        "layer 'flip' (Lambda) is an operation the channel graph does not know"
    )
    with pytest.raises(NotApplicableError, match=r"'flip' \(Lambda\)"):
        narrow(graph, graph.group_of("b").classes[:1])
    with pytest.raises(NotApplicableError, match=r"cannot follow layer 'flip' \(Lambda\)"):
        ChannelGraph(model, strict=True)


def test_it_pins_model_inputs_outputs_and_grouped_convolutions():
    inputs = keras.Input(shape=(6, 6, 4))
    a = keras.layers.Conv2D(4, 3, groups=2, name="grouped")(inputs)
    b = keras.layers.Conv2D(6, 1, name="b")(a)
    model = keras.Model(inputs, [models.head(b), b], name="two_outputs")
    graph = ChannelGraph(model)
    assert graph.group_of("b").blocked == "it is a model output"
    assert graph.prunable() == []
    with pytest.raises(NotApplicableError, match="'grouped'.*makes no channels"):
        graph.group_of("grouped")


@pytest.mark.parametrize(
    "build",
    [
        lambda: keras.applications.MobileNetV3Small(
            weights=None, input_shape=(32, 32, 3), classes=10
        ),
        lambda: keras.applications.EfficientNetB0(
            weights=None, input_shape=(32, 32, 3), classes=10
        ),
    ],
    ids=["MobileNetV3Small", "EfficientNetB0"],
)
def test_it_knows_every_operation_of_keras_applications_networks(build):
    graph = ChannelGraph(build(), strict=True)
    blocked = [g for g in graph.groups if g.blocked]
    assert len(blocked) == 1  # the classifier: its softmax mixes channels
    assert len(graph.prunable()) > 20


def test_it_narrows_every_group_of_a_mobilenet_v3_without_changing_its_logits():
    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10)
    rng = np.random.default_rng(1)
    for layer in model.layers:  # trained-like statistics, so the signal reaches the logits
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape
            stats = [rng.uniform(0.8, 1.5, n), rng.normal(0, 0.2, n), np.zeros(n), np.ones(n)]
            layer.set_weights([w.astype("float32") for w in stats])
    graph = ChannelGraph(model)
    removed = {c for group in graph.prunable() for c in group.classes[1::4]}
    narrowed = narrow(graph, removed)
    silenced = models.silence_classes(model, graph, removed)
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    # The logits: the input of the final softmax (auto-named layers vary between runs).
    logits = [keras.Model(m.inputs, m.get_layer("predictions").input) for m in (narrowed, silenced)]
    expected = logits[1].predict(x, verbose=0)
    assert np.abs(expected).max() > 1e-3  # the comparison is not between zeros
    np.testing.assert_allclose(logits[0].predict(x, verbose=0), expected, atol=1e-4, rtol=1e-4)
    assert narrowed.count_params() < 0.8 * model.count_params()
