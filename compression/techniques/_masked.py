"""Replace layers by sub-graphs whose kernels keep a fixed zero pattern (C1, C3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.surgery import Replacement, rebuild
from compression.training import FineTune, WeightMask

Masks = dict[str, dict[int, np.ndarray]]


def rebuild_with_masks(
    model: keras.Model,
    layers: Sequence[keras.layers.Layer],
    replacement_for: Callable[[Masks], Replacement],
    data: Dataset | None,
    fine_tune: FineTune | None,
) -> keras.Model:
    """Rebuild ``model`` with each of ``layers`` replaced, then hold the recorded masks.

    Args:
        model: the source model (functional); not modified.
        layers: the layers to replace.
        replacement_for: given the shared masks dict, returns the replacement
            function; replacements record {new layer name: {weight index: 0/1}}.
        data: when given, the new model is fine-tuned with the masks held.
        fine_tune: the fine-tuning budget; ``FineTune()`` by default.

    Returns:
        The new model, its masks attached so later plan steps keep them too.
    """
    masks: Masks = {}
    compressed = rebuild(model, {layer.name: replacement_for(masks) for layer in layers})
    training.attach(compressed, WeightMask(masks))
    if data is not None:
        training.fine_tune(compressed, data, fine_tune or FineTune())
    return compressed
