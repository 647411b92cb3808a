"""How the catalogue groups techniques: by category and by what they act on.

One registry, free of TensorFlow: each technique's ``category`` and
``applies_to`` (``compression.techniques.base``), the database's
``Technique.category`` and ``Technique.applies_to`` choices and the API's
filters all read it, so a new category is one entry here (and, if Django asks,
a migration).
"""

from __future__ import annotations

# Category -> label (seed 004 section 5.2.1, seed 003).
CATEGORY_LABELS: dict[str, str] = {
    "weight factorization": "Weight Factorization",
    "pruning": "Pruning",
    "quantization": "Quantization",
    "clustering": "Clustering",
    "convolution decomposition": "Convolution Decomposition",
    "layer architecture": "Layer Architecture",
    "distillation": "Distillation",
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_LABELS)

# What a technique acts on -> label: fully connected layers, conv layers, or the whole model.
SCOPE_LABELS: dict[str, str] = {
    "fc": "fully connected layers",
    "conv": "convolution layers",
    "model": "whole model",
}
SCOPES: tuple[str, ...] = tuple(SCOPE_LABELS)


def category_choices() -> list[tuple[str, str]]:
    """``(category, label)`` pairs for a Django ``choices``."""
    return list(CATEGORY_LABELS.items())


def scope_choices() -> list[tuple[str, str]]:
    """``(scope, label)`` pairs for a Django ``choices``."""
    return list(SCOPE_LABELS.items())
