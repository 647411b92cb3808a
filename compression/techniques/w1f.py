"""W1f: truncated-SVD factorization of dense layers (Xue et al. 2013; AdaDeep 5.2.1).

A dense layer n -> m with kernel W (n x m) is replaced by a linear bottleneck
Dense(k) followed by Dense(m) with the original activation and bias, set from
the truncated SVD W ~ U_k S_k V_k^T. By Eckart-Young this is the best rank-k
approximation of W in Frobenius norm, and the parameters drop from n*m to k(n+m).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.kernel_targets import (
    head_convs,
    hidden_dense,
    kernel_layers,
    named_targets,
    output_layer_names,
)
from compression.surgery import as_functional, rebuild, resolve_targets
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune

# AdaDeep 5.2.1 sets the inserted layer's width to k = m/12.
DEFAULT_DIVISOR = 12
# On a classifier head m is the number of classes, so m/12 would leave rank 1 and
# squash every class onto one direction; half the classes keeps them apart and
# still halves the head's weights when its input is much wider than m.
HEAD_DIVISOR = 2


def check_rank(k: object) -> int | None:
    """Validate a rank parameter: ``None`` (the default rule) or a positive integer.

    Raises:
        ValueError: ``k`` is not ``None`` nor an integer >= 1.
    """
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer or None. Received: k={k!r}")
    return int(k)


def rank_for(code: str, layer_name: str, k: int | None, n: int, m: int, divisor: int) -> int:
    """The rank to use on an n -> m layer, checked so the factorization is smaller.

    Args:
        code: technique code, for the message.
        layer_name: the layer, for the message.
        k: the asked rank, or ``None`` for the card's ``m // divisor`` capped at
            ``n // 2``: on a layer with a narrow input (AlexNet-13's fc1 is
            32 -> 512 at 8x8 inputs) m/12 would not shrink the layer at all.
        n: the layer's input size (for convolutions, kh*kw*Cin).
        m: the layer's output size.
        divisor: the default rule's divisor.

    Raises:
        NotApplicableError: k is not smaller than both n and m.
    """
    rank = max(1, min(m // divisor, n // 2)) if k is None else k
    if rank >= m or rank >= n:
        raise NotApplicableError(
            f"{code} needs k smaller than both sides of layer {layer_name!r} ({n} x {m}); "
            f"a larger k only adds parameters. Received: k={rank}"
        )
    return rank


def svd_factors(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best rank-k factors of ``matrix`` (n x m): (U_k S_k, V_k^T), of shapes (n, k), (k, m)."""
    u, s, vt = np.linalg.svd(np.asarray(matrix, dtype="float64"), full_matrices=False)
    return (u[:, :k] * s[:k]).astype("float32"), vt[:k].astype("float32")


def factorize_dense(layer: keras.layers.Layer, x: object, k: int) -> object:
    """Replace ``layer`` on input ``x`` by Dense(k, linear) -> Dense(m) from the SVD."""
    left, right = svd_factors(kernel_matrix(layer), k)
    return two_dense(layer, x, left, right, ("svd_u", "svd_v"))


def two_dense(
    layer: keras.layers.Layer,
    x: object,
    left: np.ndarray,
    right: np.ndarray,
    suffixes: tuple[str, str],
) -> object:
    """Replace dense ``layer`` on input ``x`` by a linear bias-free layer holding
    ``left`` (n x k), then a layer holding ``right`` (k x m) with the layer's own
    activation and bias; the new layers are named ``<layer>_<suffix>``. A head's
    1x1 Conv2D becomes two 1x1 convolutions."""
    _, *bias = layer.get_weights()
    config = layer.get_config()
    first = _linear_like(layer, left.shape[1], f"{layer.name}_{suffixes[0]}", use_bias=False)
    second = _linear_like(
        layer,
        right.shape[1],
        f"{layer.name}_{suffixes[1]}",
        activation=config["activation"],
        use_bias=config["use_bias"],
    )
    hidden = first(x)
    first.set_weights([left.reshape(first.kernel.shape)])
    out = second(hidden)
    second.set_weights([right.reshape(second.kernel.shape), *bias])
    return out


def _linear_like(layer: keras.layers.Layer, units: int, name: str, **options: object) -> object:
    if isinstance(layer, keras.layers.Dense):
        return keras.layers.Dense(units, name=name, **options)
    return keras.layers.Conv2D(units, 1, name=name, **options)


def kernel_matrix(layer: keras.layers.Layer) -> np.ndarray:
    """The layer's kernel as an n x m matrix (a 1x1 convolution's is (1, 1, n, m))."""
    kernel = layer.get_weights()[0]
    return kernel.reshape(-1, kernel.shape[-1])


def dense_targets(
    model: keras.Model, targets: Sequence[str] | None, code: str
) -> list[keras.layers.Layer]:
    """The Dense layers (or a head's 1x1 convolutions) W1f and W2 factorize.

    Named targets are checked to be Dense or convolutions of the head
    (``kernel_targets.head_convs``). By default every Dense layer but the
    output; on a network whose only Dense layer is its classifier (MobileNetV2,
    ResNet, EfficientNet), that classifier. A network without Dense layers whose
    head is 1x1 convolutions after global pooling (MobileNetV3) is treated
    alike: the head's layers but its classifier, or the classifier alone.

    Raises:
        NotApplicableError: no such layer, or a named layer of another kind.
    """
    convs = {la.name: la for la in head_convs(model)}
    if targets:
        others = [name for name in targets if name not in convs]
        dense = {la.name: la for la in named_targets(model, others, ("Dense",), code)}
        return [convs.get(name) or dense[name] for name in targets]
    if hidden_dense(model):
        return resolve_targets(model, targets, "fc", code)
    heads = kernel_layers(model, ("Dense",))
    if heads:
        return heads
    if convs:
        *hidden, classifier = convs.values()
        return hidden or [classifier]
    return resolve_targets(model, None, "fc", code)  # raises: names the missing kind


def divisor_for(model: keras.Model, layer: keras.layers.Layer, divisor: int) -> int:
    """The default rule's divisor for ``layer``: ``HEAD_DIVISOR`` on a classifier."""
    return HEAD_DIVISOR if layer.name in classifier_names(model) else divisor


def classifier_names(model: keras.Model) -> set[str]:
    """The output layers, and a convolutional head's last layer (its classifier)."""
    convs = head_convs(model)
    return output_layer_names(model) | ({convs[-1].name} if convs else set())


@register
class W1f(Technique):
    """Truncated-SVD factorization of dense layers."""

    code = "W1f"
    name = "SVD factorization of dense layers"
    acts_on = (
        "Dense layers (and the 1x1 Conv2D of a pooled head, as in MobileNetV3): the hidden ones "
        "by default, the classifier when it is the only one"
    )
    category = "weight factorization"
    applies_to = "fc"
    description = (
        "Replaces each target dense layer n -> m by a linear dense layer of k units "
        "followed by a dense layer of m units with the original activation and bias, "
        "initialised from the truncated singular value decomposition W ~ U_k S_k V_k^T "
        "(the best rank-k approximation of the kernel), then fine-tunes. Parameters "
        "fall from n*m to k(n+m); k defaults to m/12 as in AdaDeep. Targets are the hidden "
        "Dense layers, or the classifier head when it is the only Dense layer (k then "
        "defaults to half the classes)."
    )
    reference = (
        "Xue, Li, Gong. Restructuring of Deep Neural Network Acoustic Models with Singular "
        "Value Decomposition. Interspeech 2013; Lane et al. DeepX, IPSN 2016; Liu et al. "
        "AdaDeep, IEEE TMC 2020, section 5.2.1."
    )
    param_names = ("k",)

    def __init__(self, k: int | None = None) -> None:
        self.k = check_rank(k)

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Factorize the target dense layers of a copy of ``model``.

        Args:
            model: the model to compress; it is not modified.
            targets: Dense layer names; ``None`` means every Dense layer but the
                output, or the output layer when it is the only Dense layer.
            data: when given, the factorized model is fine-tuned on it.
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

        Returns:
            A new model in which each target is two dense layers,
            ``<name>_svd_u`` (n -> k) and ``<name>_svd_v`` (k -> m).
        """
        source = as_functional(model)  # outputs known; rebuild keeps model's constraints
        layers = dense_targets(source, targets, self.code)
        ranks = {
            la.name: rank_for(
                self.code,
                la.name,
                self.k,
                *kernel_matrix(la).shape,
                divisor_for(source, la, DEFAULT_DIVISOR),
            )
            for la in layers
        }
        factorized = rebuild(
            model,
            {
                name: lambda layer, x, k=rank: factorize_dense(layer, x, k)
                for name, rank in ranks.items()
            },
        )
        if data is not None:
            training.fine_tune(factorized, data, fine_tune or FineTune())
        return factorized
