"""W1c: truncated-SVD factorization of convolutions (AdaDeep 5.2.1).

A convolution's kernel (kh, kw, Cin, m) is a matrix of (kh*kw*Cin) rows, one per
input patch element, and m columns. Its truncated SVD W ~ (U_k S_k) V_k^T gives a
kh x kw convolution to k channels followed by a 1x1 convolution to m channels;
since a convolution is linear in its kernel the pair computes exactly the rank-k
approximation of the original layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.surgery import all_but_first, layers_of_kind, rebuild, resolve_targets
from compression.techniques import register
from compression.techniques.base import Technique
from compression.techniques.w1f import DEFAULT_DIVISOR, check_rank, rank_for, svd_factors
from compression.training import FineTune


def factorize_conv(layer: keras.layers.Layer, x: object, k: int) -> object:
    """Replace ``layer`` on input ``x`` by a kh x kw conv to k channels, then a 1x1 conv."""
    kernel, *bias = layer.get_weights()
    kh, kw, cin, m = kernel.shape
    # Rows of the reshaped kernel run over (kh, kw, Cin) in C order; reshaping the
    # left factor back with the same order restores the patch layout.
    left, right = svd_factors(kernel.reshape(kh * kw * cin, m), k)
    config = layer.get_config()
    first = keras.layers.Conv2D(
        k,
        (kh, kw),
        strides=config["strides"],
        padding=config["padding"],
        dilation_rate=config["dilation_rate"],
        data_format=config["data_format"],
        use_bias=False,
        name=f"{layer.name}_svd_u",
    )
    second = keras.layers.Conv2D(
        m,
        1,
        data_format=config["data_format"],
        activation=config["activation"],
        use_bias=config["use_bias"],
        name=f"{layer.name}_svd_v",
    )
    hidden = first(x)
    first.set_weights([left.reshape(kh, kw, cin, k)])
    out = second(hidden)
    second.set_weights([right.reshape(1, 1, k, m), *bias])
    return out


def _all_but_first(model: keras.Model, code: str) -> list[keras.layers.Layer]:
    """Every Conv2D after the first (seed 004 compresses conv2..conv5)."""
    convs = layers_of_kind(model, "conv")
    if len(convs) == 1:
        raise NotApplicableError(
            f"{code} leaves the first Conv2D layer alone by default and model "
            f"{model.name!r} has only {convs[0].name!r}; name it in the targets to factorize it."
        )
    return resolve_targets(model, None, "conv", code, default=all_but_first)


@register
class W1c(Technique):
    """Truncated-SVD factorization of convolution layers."""

    code = "W1c"
    min_fine_tune_epochs = 4
    name = "SVD factorization of convolutions"
    acts_on = "every ungrouped Conv2D but the first (DepthwiseConv2D is left alone)"
    category = "weight factorization"
    applies_to = "conv"
    description = (
        "Reshapes each target convolution's kernel (kh, kw, Cin, m) to a (kh*kw*Cin) x m "
        "matrix and replaces the layer by its truncated SVD: a kh x kw convolution with "
        "k filters, no bias and no activation (U_k S_k), then a 1x1 convolution back to m "
        "channels with the original activation and bias (V_k^T), then fine-tunes. "
        "Parameters fall from kh*kw*Cin*m to kh*kw*Cin*k + k*m; k defaults to m/12 as "
        "in AdaDeep, and the first convolution is left alone by default."
    )
    reference = (
        "Xue, Li, Gong. Restructuring of Deep Neural Network Acoustic Models with Singular "
        "Value Decomposition. Interspeech 2013; Liu et al. AdaDeep, IEEE TMC 2020, "
        "section 5.2.1."
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
        """Factorize the target convolutions of a copy of ``model``.

        Args:
            model: the model to compress; it is not modified.
            targets: Conv2D layer names; ``None`` means every Conv2D but the first.
            data: when given, the factorized model is fine-tuned on it.
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

        Returns:
            A new model in which each target is ``<name>_svd_u`` (kh x kw, k
            filters) followed by ``<name>_svd_v`` (1x1, m filters).
        """
        if targets:
            layers = resolve_targets(model, targets, "conv", self.code)
        else:
            layers = _all_but_first(model, self.code)
        ranks = {}
        for layer in layers:
            if layer.groups != 1:
                raise NotApplicableError(
                    f"{self.code} factorizes ungrouped convolutions; layer {layer.name!r} "
                    f"has groups={layer.groups}."
                )
            kh, kw, cin, m = layer.kernel.shape
            ranks[layer.name] = rank_for(
                self.code, layer.name, self.k, kh * kw * cin, m, DEFAULT_DIVISOR
            )
        factorized = rebuild(
            model,
            {name: lambda la, x, k=rank: factorize_conv(la, x, k) for name, rank in ranks.items()},
        )
        if data is not None:
            training.fine_tune(factorized, data, fine_tune or FineTune())
        return factorized
