"""Baseline architectures, buildable at any input shape and class count.

``build("lenet", (8, 8, 1), 10)`` returns an untrained functional Keras model.
Each architecture module registers its builder with ``@register_architecture``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import keras

Builder = Callable[..., keras.Model]
_ARCHITECTURES: dict[str, Builder] = {}


def register_architecture(name: str) -> Callable[[Builder], Builder]:
    """Register a builder ``fn(input_shape, num_classes, **options) -> Model``."""

    def decorate(fn: Builder) -> Builder:
        if name in _ARCHITECTURES:
            raise ValueError(f"Architecture registered twice. Received: name={name!r}")
        _ARCHITECTURES[name] = fn
        return fn

    return decorate


def architectures() -> list[str]:
    """Names of every registered architecture, sorted."""
    _discover()
    return sorted(_ARCHITECTURES)


def build(
    arch: str, input_shape: tuple[int, ...], num_classes: int, **options: object
) -> keras.Model:
    """Build an untrained model of a registered architecture.

    Args:
        arch: architecture name, see ``architectures()``.
        input_shape: one sample's shape, for example (8, 8, 1).
        num_classes: width of the softmax output.
        **options: architecture-specific options (width multiplier, …).

    Returns:
        A functional ``keras.Model`` named after the architecture.
    """
    _discover()
    if arch not in _ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture. Known: {', '.join(sorted(_ARCHITECTURES))}. "
            f"Received: arch={arch!r}"
        )
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2. Received: num_classes={num_classes}")
    return _ARCHITECTURES[arch](tuple(input_shape), num_classes, **options)


def _discover() -> None:
    # Importing each module runs its @register_architecture decorators.
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
