"""L2: Mlpconv, the micro network of Network in Network, in place of a conv.

A kh x kw conv with Cin inputs and m filters becomes a kh x kw conv with
h = m/2 filters followed by two 1x1 convs (h, then m), ReLU in between:
kh*kw*Cin*h + h*h + h*m weights, 9*Cin*m/2 + (m/2)^2 + (m/2)*m for a 3x3
original (seed 004, section 5.2.1).

Rather than starting from noise, the micro network is initialised to compute
a rank-r approximation of the original conv (r = h // 2, truncated SVD of
the kernel as a (kh*kw*Cin) x m matrix, W ~ A B): the first conv holds
[A, -A], the middle 1x1 is the identity and the last holds [B; -B], so the
ReLUs pass relu(a) and relu(-a) and the last layer sums B^T (relu(a) -
relu(-a)) = B^T a.

By default it replaces spatial convolutions (ResNet's 3x3 inside a
bottleneck, DenseNet's growth convs), and keeps each conv's output width, so
residual adds and batch norms after it are untouched. When m/2 hidden filters
would not shrink a layer, h is lowered until it does, or the layer is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.graph import Builder, ChannelGraph, Slices
from compression.graph.replace import Swap, apply_swaps, settle, spatial_targets
from compression.surgery import as_functional
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune


def mlpconv_init(kernel: np.ndarray, hidden: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernels of the three convs reproducing a low-rank approximation of ``kernel``.

    Args:
        kernel: the original (kh, kw, Cin, m) kernel.
        hidden: filters of the first two convs (h).

    Returns:
        (kh, kw, Cin, h), (1, 1, h, h) and (1, 1, h, m) kernels; unused
        filters (h odd, or h = 1) are zero.
    """
    kh, kw, cin, m = kernel.shape
    # The rank cannot exceed the kernel matrix's smaller side (a 1x1 conv from
    # 16 channels has rank <= 16 however many filters it has).
    rank = min(hidden // 2, kh * kw * cin, m)
    a, b = low_rank_factors(kernel.reshape(-1, m).astype(np.float64), rank)
    first = np.zeros((kh * kw * cin, hidden))
    first[:, :rank], first[:, rank : 2 * rank] = a, -a
    last = np.zeros((hidden, m))
    last[:rank], last[rank : 2 * rank] = b, -b
    middle = np.eye(hidden)
    shapes = ((kh, kw, cin, hidden), (1, 1, hidden, hidden), (1, 1, hidden, m))
    return tuple(
        w.reshape(shape).astype(kernel.dtype)
        for w, shape in zip((first, middle, last), shapes, strict=True)
    )


def low_rank_factors(w: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """A (K x r) and B (r x m) with A B the best rank-r approximation of ``w`` (K x m).

    The right singular vectors come from the eigenvectors of the small m x m
    Gram matrix w^T w rather than an SVD of w: the same truncated SVD,
    A = U sqrt(S) = w V / sqrt(S) and B = sqrt(S) V^T, several times faster
    on a 3x3x512x512 kernel.
    """
    eigenvalues, vectors = np.linalg.eigh(w.T @ w)
    order = np.argsort(eigenvalues)[::-1][:rank]
    root = np.sqrt(np.sqrt(np.clip(eigenvalues[order], 0.0, None)))  # sqrt of singular values
    v = vectors[:, order]
    a = np.divide(w @ v, root, out=np.zeros((w.shape[0], len(order))), where=root > 1e-12)
    return a, root[:, None] * v.T


@register
class L2(Technique):
    """Mlpconv micro network (conv m/2, 1x1 m/2, 1x1 m) replacing conv layers."""

    code = "L2"
    name = "Mlpconv (Network in Network)"
    acts_on = (
        "every spatial (larger than 1x1) Conv2D but the first, narrowing the "
        "BatchNormalization, residual adds and squeeze-excite that carry its channels"
    )
    category = "layer architecture"
    applies_to = "conv"
    description = (
        "Replaces a kh x kw convolution with m filters by a micro network: a kh x kw "
        "convolution with m/2 filters (same stride and padding), then 1x1 convolutions with "
        "m/2 and m filters, ReLU in between. Weights: kh*kw*Cin*m/2 + (m/2)^2 + (m/2)*m. "
        "It starts as a rank-m/4 approximation of the original kernel and is fine-tuned "
        "when data is given. "
        "Acts by default on every spatial (larger than 1x1) Conv2D but the first, such as "
        "ResNet's 3x3 inside a bottleneck or DenseNet's growth convs; a network whose only "
        "spatial convolutions are depthwise (MobileNet, EfficientNet) is refused, since "
        "they are already cheaper. "
        "The hidden width is lowered until the block is smaller than the layer."
    )
    reference = (
        "Lin, Chen and Yan 2014, Network In Network (ICLR); "
        "Liu et al. 2018, AdaDeep, section 5.2.1."
    )
    param_names = ()

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return a copy with each target conv replaced by an Mlpconv block.

        Targets default to every spatial (larger than 1x1) Conv2D but the first
        (seed 004 compresses conv2..conv5). Output shape and width are unchanged.

        Raises:
            NotApplicableError: a named target would not shrink, or no target
                qualifies; the message says why.
        """
        source = as_functional(model)
        swaps: dict[str, Swap] = {}
        refusals: list[str] = []
        for layer in spatial_targets(source, targets, self.code):
            hidden = shrinking_hidden(layer)
            if hidden < 1:
                refusals.append(
                    f"no Mlpconv block for {layer.name!r} has fewer parameters than its "
                    f"{layer.count_params()}."
                )
                continue
            swaps[layer.name] = Swap(_builder(hidden))
        settle(self.code, swaps, refusals, named=bool(targets))
        compressed = apply_swaps(ChannelGraph(source), swaps)
        if data is not None:
            training.fine_tune(compressed, data, fine_tune or FineTune())
        return compressed


def block_params(layer: keras.layers.Layer, hidden: int) -> int:
    """Parameters of the Mlpconv block with ``hidden`` filters replacing ``layer``."""
    kh, kw, cin, m = layer.kernel.shape
    return (kh * kw * cin + 1) * hidden + (hidden + 1) * hidden + hidden * m + m * layer.use_bias


def shrinking_hidden(layer: keras.layers.Layer) -> int:
    """m // 2 hidden filters (Network in Network), lowered until the block is
    smaller than ``layer``; 0 when no width shrinks it."""
    hidden = max(1, layer.filters // 2)
    while hidden >= 1 and block_params(layer, hidden) >= layer.count_params():
        hidden -= 1
    return hidden


def _builder(hidden: int) -> Builder:
    return lambda layer, x, cut: _mlpconv(layer, x, cut, hidden)


def _mlpconv(layer: keras.layers.Layer, x: object, cut: Slices, hidden: int) -> object:
    """Build the micro network on ``x`` and set its weights; returns its output."""
    kernel, *bias = layer.get_weights()
    if cut.kept_in is not None:  # an upstream layer lost channels
        kernel = np.take(kernel, cut.kept_in, axis=2)
    m = kernel.shape[-1]
    fmt = layer.data_format
    convs = [
        keras.layers.Conv2D(
            hidden,
            layer.kernel_size,
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            data_format=fmt,
            activation="relu",  # NiN's micro network is an MLP with ReLU
            name=f"{layer.name}_conv",
        ),
        keras.layers.Conv2D(
            hidden, 1, data_format=fmt, activation="relu", name=f"{layer.name}_mlp1"
        ),
        keras.layers.Conv2D(
            m,
            1,
            data_format=fmt,
            activation=layer.activation,
            use_bias=layer.use_bias,
            name=f"{layer.name}_mlp2",
        ),
    ]
    for conv in convs:
        x = conv(x)
    first, middle, last = mlpconv_init(kernel, hidden)
    zeros = np.zeros(hidden, dtype=kernel.dtype)
    convs[0].set_weights([first, zeros])
    convs[1].set_weights([middle, zeros])
    convs[2].set_weights([last, *bias])
    return x
