"""C3: sparse random channel connections (Changpinyo et al. 2017).

Each output channel of a conv reads only a random subset of the input
channels: a fixed random Cin x m connection mask, broadcast over the kh x kw
taps, removes the fraction ``theta`` of the connections and is held while
fine-tuning. Non-zero weights: (1 - theta) * kh*kw*Cin*m (seed 004, 5.2.1).
A Dense layer named as a target gets the same n x m connection mask. A
DepthwiseConv2D is refused: each of its outputs already reads exactly one
input channel, and C3 keeps at least one input per output, so there is
nothing to cut.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import keras
import numpy as np

from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.kernel_targets import named_targets
from compression.surgery import Replacement, all_but_first, as_functional, resolve_targets
from compression.techniques import register
from compression.techniques._masked import rebuild_with_masks
from compression.techniques.base import Technique
from compression.training import FineTune


def connection_mask(cin: int, m: int, theta: float, rng: np.random.Generator) -> np.ndarray:
    """A random 0/1 (Cin, m) mask keeping round((1 - theta) Cin m) connections.

    Every output channel first gets one random input, so none is cut off; the
    rest of the kept connections are drawn uniformly from the remaining ones.
    With theta so high that fewer than m connections would remain, each
    output keeps exactly one.
    """
    keep = max(m, round((1 - theta) * cin * m))
    mask = np.zeros((cin, m), dtype=np.float32)
    mask[rng.integers(cin, size=m), np.arange(m)] = 1
    free = np.flatnonzero(mask.ravel() == 0)
    mask.ravel()[rng.choice(free, size=keep - m, replace=False)] = 1
    return mask


@register
class C3(Technique):
    """A fixed random sparse pattern of input-output channel connections."""

    code = "C3"
    name = "Sparse random channel connections"
    acts_on = "every Conv2D but the first, and Dense layers when named; DepthwiseConv2D is refused"
    category = "convolution decomposition"
    applies_to = "conv"
    description = (
        "Keeps each convolution's shape but cuts the fraction theta of its input-output "
        "channel connections with a fixed random mask (the same for every kernel tap), "
        "keeping at least one input per output channel; the cut weights are held at zero "
        "while fine-tuning. Non-zero weights: (1 - theta) * kh*kw*Cin*m. Acts on every Conv2D "
        "but the first by default and on Dense layers when named; depthwise convolutions are "
        "left alone (each output reads one input channel already: nothing to cut)."
    )
    reference = (
        "Changpinyo, Sandler and Zhmoginov 2017, The Power of Sparsity in Convolutional "
        "Neural Networks; Liu et al. 2018, AdaDeep, section 5.2.1."
    )
    param_names = ("theta", "seed")

    def __init__(self, theta: float = 0.75, seed: int = 0) -> None:
        if isinstance(theta, bool) or not isinstance(theta, int | float) or not 0 <= theta < 1:
            raise ValueError(f"theta must be in [0, 1). Received: theta={theta!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int. Received: seed={seed!r}")
        self.theta = float(theta)
        self.seed = seed

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return a copy with each target conv's connections randomly thinned.

        Targets default to every Conv2D but the first (seed 004 compresses
        conv2..conv5); Conv2D and Dense layers may be named. Each target is
        replaced by a layer of the same shape named ``<name>_rand``,
        initialised with the masked original kernel.

        Raises:
            NotApplicableError: no Conv2D (by default), or a named layer is
                missing, a DepthwiseConv2D, or of another kind.
        """
        source = as_functional(model)
        if targets:
            _refuse_depthwise(source, targets, self.code)
            chosen = named_targets(source, targets, ("Conv2D", "Dense"), self.code)
        else:
            chosen = resolve_targets(source, None, "conv", self.code, default=all_but_first)
        return rebuild_with_masks(source, chosen, self._thin, data, fine_tune)

    def _thin(self, masks: dict[str, dict[int, np.ndarray]]) -> Replacement:
        def replace(layer: keras.layers.Layer, x: object) -> object:
            kernel, *bias = layer.get_weights()
            # Seeded per layer name, so layers of one model get different
            # patterns and a layer's pattern does not depend on the others.
            rng = np.random.default_rng([self.seed, zlib.crc32(layer.name.encode())])
            # The kernel's last two axes are (inputs, outputs) for Conv2D and Dense alike.
            mask = connection_mask(kernel.shape[-2], kernel.shape[-1], self.theta, rng)
            full = np.broadcast_to(mask, kernel.shape).astype(kernel.dtype)
            config = layer.get_config() | {"name": f"{layer.name}_rand"}
            thinned = type(layer).from_config(config)
            out = thinned(x)
            thinned.set_weights([kernel * full, *bias])
            masks[thinned.name] = {0: full}  # weights[0] is the kernel
            return out

        return replace


def _refuse_depthwise(model: keras.Model, targets: Sequence[str], code: str) -> None:
    for name in targets:
        layer = next((la for la in model.layers if la.name == name), None)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            raise NotApplicableError(
                f"{code} cuts input-output channel connections; depthwise layer {name!r} "
                "already connects each output to a single input channel, so there is "
                f"nothing to cut. Received: targets={list(targets)}"
            )
