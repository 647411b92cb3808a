import keras
import numpy as np
import pytest

from compression.zoo import architectures, build
from compression.zoo.applications import APPLICATIONS, MIN_SIDE

SMALL = ("lenet", "alexnet", "vgg", "mobilenet", "inception", "resnet")


def _probabilities(model: keras.Model, shape: tuple[int, ...], batch: int = 3) -> np.ndarray:
    x = np.random.default_rng(0).random((batch, *shape), dtype="float32")
    # A direct eager call: no tf.function tracing, much faster than predict for one batch.
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("arch", SMALL)
@pytest.mark.parametrize(("shape", "classes"), [((8, 8, 1), 10), ((32, 32, 3), 7)])
def test_it_builds_every_small_architecture_with_softmax_outputs(arch, shape, classes):
    model = build(arch, shape, classes)
    assert model.input_shape == (None, *shape)
    p = _probabilities(model, shape)
    assert p.shape == (3, classes)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_it_registers_the_small_architectures_and_every_application():
    assert set(SMALL) | set(APPLICATIONS) <= set(architectures())


def test_it_scales_mobilenet_with_alpha():
    full = build("mobilenet", (8, 8, 1), 10)
    half = build("mobilenet", (8, 8, 1), 10, alpha=0.5)
    # Stem: 32 filters at alpha 1, round(0.5 * 32) = 16 at alpha 0.5.
    assert full.get_layer("conv1").filters == 32
    assert half.get_layer("conv1").filters == 16
    assert half.get_layer("block5_pw").filters == 128
    assert half.count_params() < full.count_params()


def test_it_builds_depthwise_separable_blocks_in_mobilenet():
    model = build("mobilenet", (8, 8, 1), 10)
    dw = model.get_layer("block1_dw")
    assert isinstance(dw, keras.layers.DepthwiseConv2D)
    # Depthwise 3x3 on 32 channels: 3 * 3 * 32 weights, one filter per channel, no bias.
    assert dw.count_params() == 3 * 3 * 32
    pw = model.get_layer("block1_pw")
    assert pw.kernel_size == (1, 1) and pw.count_params() == 32 * 64


def test_it_concatenates_four_branches_in_each_inception_module():
    model = build("inception", (8, 8, 1), 10)
    # Module 1 branches: 16 (1x1) + 32 (3x3) + 8 (5x5) + 8 (pool projection).
    assert model.get_layer("inc1_concat").output.shape[-1] == 16 + 32 + 8 + 8
    assert model.get_layer("inc2_concat").output.shape[-1] == 32 + 48 + 24 + 16
    assert model.get_layer("inc1_5x5").kernel_size == (5, 5)


def test_it_projects_resnet_shortcuts_only_where_the_stride_changes():
    model = build("resnet", (32, 32, 3), 10, blocks=2)
    names = {layer.name for layer in model.layers}
    assert {"stage2_block1_proj", "stage3_block1_proj"} <= names
    assert "stage1_block1_proj" not in names
    assert "stage2_block2_proj" not in names
    assert model.get_layer("stage3_block2_out").output.shape[1:] == (8, 8, 64)
    # 6n + 2 weighted layers (convs and the dense head), n = 2.
    weighted = [
        la for la in model.layers if isinstance(la, keras.layers.Conv2D | keras.layers.Dense)
    ]
    assert len([la for la in weighted if not la.name.endswith("_proj")]) == 6 * 2 + 2


def test_it_halves_the_vgg_with_width():
    model = build("vgg", (8, 8, 1), 10, width=0.5)
    assert model.get_layer("block3_conv2").filters == 32
    assert model.get_layer("fc1").units == 64


def test_it_builds_mobilenetv2_from_keras_applications_untrained_at_its_minimum_size():
    model = build("MobileNetV2", (32, 32, 3), 10)
    p = _probabilities(model, (32, 32, 3), batch=2)
    assert p.shape == (2, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", APPLICATIONS)
def test_it_knows_the_minimum_size_keras_enforces_for_each_application(name):
    # Keras checks the size before building any layer, so this stays fast.
    side = MIN_SIDE[name] - 1
    constructor = getattr(keras.applications, name)
    with pytest.raises(ValueError, match=f"at least {MIN_SIDE[name]}x{MIN_SIDE[name]}"):
        constructor(weights=None, input_shape=(side, side, 3), classes=10)


def test_it_names_the_minimum_input_size_of_an_application():
    with pytest.raises(ValueError, match=r"InceptionV3 needs inputs of at least 75x75"):
        build("InceptionV3", (32, 32, 3), 10)


def test_it_refuses_to_download_application_weights():
    with pytest.raises(ValueError, match="never downloads weights"):
        build("MobileNetV2", (32, 32, 3), 10, weights="imagenet")


def test_it_lists_the_known_architectures_for_an_unknown_name():
    with pytest.raises(ValueError, match=r"Unknown architecture\. Known: .*MobileNetV2.*vgg"):
        build("ResNet9000", (32, 32, 3), 10)
