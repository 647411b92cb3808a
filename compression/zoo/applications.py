"""Keras Applications, built untrained at any class count and input shape.

Every name in ``APPLICATIONS`` is registered as an architecture, so
``build("MobileNetV2", (32, 32, 3), 10)`` returns
``keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3),
classes=10, include_top=True)``. Weights are never downloaded: Compresso
runs offline and trains baselines on the user's own data.

Every one of them saves and reloads through ``compression.modelio`` in safe
mode (none uses a Lambda layer), with the same weights hash.
"""

from __future__ import annotations

import inspect

import keras

from compression.zoo import Builder, register_architecture

# Smallest input side each application accepts (keras.applications'
# obtain_input_shape min_size); their stems and stride-2 stages need it.
MIN_SIDE: dict[str, int] = {
    "MobileNet": 32,
    "MobileNetV2": 32,
    "MobileNetV3Small": 32,
    "MobileNetV3Large": 32,
    "EfficientNetB0": 32,
    "EfficientNetV2B0": 32,
    "ResNet50": 32,
    "ResNet50V2": 32,
    "InceptionV3": 75,
    "InceptionResNetV2": 75,
    "Xception": 71,
    "VGG16": 32,
    "DenseNet121": 32,
    "NASNetMobile": 32,
    "ConvNeXtTiny": 32,
}
APPLICATIONS: tuple[str, ...] = tuple(MIN_SIDE)


def build_application(
    name: str, input_shape: tuple[int, ...], num_classes: int, **options: object
) -> keras.Model:
    """Build ``keras.applications.<name>`` untrained with a softmax top.

    Args:
        name: one of ``APPLICATIONS``.
        input_shape: (H, W, C) with H and W at least ``MIN_SIDE[name]``.
        num_classes: width of the softmax output.
        **options: passed to the application (for example ``alpha``).
            ``include_preprocessing`` defaults to False where the application
            has it, since Compresso's images are already scaled to [0, 1].

    Raises:
        ValueError: unknown name, weights asked for, input not (H, W, C),
            or input smaller than the application's minimum.
    """
    if name not in MIN_SIDE:
        raise ValueError(
            f"Unknown Keras application. Known: {', '.join(APPLICATIONS)}. Received: name={name!r}"
        )
    if "weights" in options:
        raise ValueError(
            "Applications are built untrained (weights=None); Compresso never downloads "
            f"weights. Received: weights={options['weights']!r}"
        )
    if len(input_shape) != 3:
        raise ValueError(
            f"{name} needs an (height, width, channels) input. Received: input_shape={input_shape}"
        )
    minimum = MIN_SIDE[name]
    if min(input_shape[:2]) < minimum:
        raise ValueError(
            f"{name} needs inputs of at least {minimum}x{minimum} pixels; resize the dataset "
            f"(for example load_digits(resize_to={minimum})). Received: input_shape={input_shape}"
        )
    constructor = getattr(keras.applications, name)
    if "include_preprocessing" in inspect.signature(constructor).parameters:
        options.setdefault("include_preprocessing", False)
    return constructor(
        weights=None,
        input_shape=tuple(input_shape),
        classes=num_classes,
        include_top=True,
        classifier_activation="softmax",
        **options,
    )


def _builder(name: str) -> Builder:
    def build(input_shape: tuple[int, ...], num_classes: int, **options: object) -> keras.Model:
        return build_application(name, input_shape, num_classes, **options)

    build.__name__ = f"build_{name}"
    build.__doc__ = f"Build keras.applications.{name} untrained (see build_application)."
    return build


for _name in APPLICATIONS:
    register_architecture(_name)(_builder(_name))
