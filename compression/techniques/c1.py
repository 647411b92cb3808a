"""C1: sparse convolution-kernel decomposition (Liu et al. 2015, Sparse CNN).

A kh x kw conv K with Cin inputs and m filters becomes two stages: a 1x1 conv
P mapping the Cin input channels onto Cin' basis channels, then kh x kw
kernels Q on the basis channels, most of them zero. With P's columns
orthonormal, Q = P^T K (over the input-channel axis) gives P Q = K exactly
when Cin' = Cin, so the pair starts as the original conv and only the zeroed
kernel entries cost accuracy. Weights: Cin*Cin' + nnz(Q) (seed 004, 5.2.1).

The PCA sees kh*kw*m samples of Cin features, so the basis can have at most
min(Cin, kh*kw*m) vectors (a 1x1 projection conv 96 -> 16 allows 16). Stored
densely, the pair costs Cin*Cin' + kh*kw*Cin'*m weights, more than the layer's
kh*kw*Cin*m when Cin' = Cin; so by default each layer gets the largest basis
whose pair has fewer weights and fewer multiply-accumulates than the layer
(the 1x1 stage runs at the input's resolution, before any stride). A layer
no basis can shrink is left alone by default and refused when named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
from sklearn.decomposition import PCA

from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.surgery import Replacement, all_but_first, as_functional, resolve_targets
from compression.techniques import register
from compression.techniques._masked import rebuild_with_masks
from compression.techniques.base import Technique
from compression.training import FineTune


def channel_basis(kernel: np.ndarray, size: int) -> np.ndarray:
    """Orthonormal basis of the input-channel space by PCA, shape (Cin, size).

    The basis vectors live in input-channel space, so each sample PCA sees is
    one Cin-vector of the kernel: the weights that one (row, column, filter)
    position gives the Cin input channels (kh*kw*m samples of Cin features).
    """
    cin = kernel.shape[2]
    samples = np.moveaxis(kernel, 2, -1).reshape(-1, cin)
    pca = PCA(n_components=size, svd_solver="full").fit(samples.astype(np.float64))
    return pca.components_.T


def basis_bound(kernel_shape: tuple[int, ...]) -> int:
    """The largest basis PCA can find for a kernel: min(Cin, kh*kw*m)."""
    kh, kw, cin, m = kernel_shape
    return min(cin, kh * kw * m)


def shrinking_basis(kernel_shape: tuple[int, ...], pixel_ratio: float = 1.0) -> int:
    """The largest basis whose decomposition has fewer weights and MACs than the conv.

    Args:
        kernel_shape: (kh, kw, Cin, m).
        pixel_ratio: input pixels per output pixel (the stride's area), since
            the 1x1 basis conv runs at the input's resolution.

    Returns:
        The basis size, 0 if even one basis channel would not shrink the layer.
    """
    kh, kw, cin, m = kernel_shape
    taps = kh * kw * cin * m
    # weights: b*(Cin + kh*kw*m) < taps; MACs per output pixel: b*(ratio*Cin + kh*kw*m) < taps.
    per_channel = max(cin, pixel_ratio * cin) + kh * kw * m
    largest = int(np.ceil(taps / per_channel)) - 1
    return max(0, min(largest, basis_bound(kernel_shape)))


def pixel_ratio(layer: keras.layers.Layer) -> float:
    """Input pixels per output pixel of a conv (its strides' product if shapes are unknown)."""
    try:
        inp, out = layer.input.shape[1:3], layer.output.shape[1:3]
    except (AttributeError, ValueError):
        inp = out = (None,)
    if None in (*inp, *out):
        return float(np.prod(layer.strides))
    return float(np.prod(inp)) / float(np.prod(out))


def sparsify(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask zeroing exactly round(sparsity * size) smallest-magnitude entries."""
    count = round(sparsity * kernel.size)
    order = np.argsort(np.abs(kernel), axis=None, kind="stable")
    mask = np.ones(kernel.size, dtype=kernel.dtype)
    mask[order[:count]] = 0
    return mask.reshape(kernel.shape)


@register
class C1(Technique):
    """Sparse kernel decomposition: PCA channel basis plus sparse kernels.

    Args:
        basis: the basis size for every target, or None for each target's
            largest basis that shrinks it.
        sparsity: the fraction of the projected kernels' entries zeroed.
    """

    code = "C1"
    name = "Sparse convolution-kernel decomposition"
    acts_on = "every ungrouped Conv2D but the first (DepthwiseConv2D is left alone)"
    category = "convolution decomposition"
    applies_to = "conv"
    description = (
        "Replaces a convolution by a 1x1 convolution onto a channel basis found by PCA "
        "of the kernel over its input channels, followed by kh x kw kernels on the basis "
        "channels obtained by projecting the original kernel onto the basis; the "
        "smallest-magnitude fraction `sparsity` of those kernels is zeroed and held at zero "
        "while fine-tuning. Weights: Cin*basis + the non-zero kernel entries. The basis is "
        "at most min(Cin, kh*kw*m); by default it is the largest that gives fewer weights and "
        "MACs than the layer, stored densely, and convolutions it cannot shrink are skipped."
    )
    reference = (
        "Liu et al. 2015, Sparse Convolutional Neural Networks (CVPR); "
        "Liu et al. 2018, AdaDeep, section 5.2.1."
    )
    param_names = ("basis", "sparsity")

    def __init__(self, basis: int | None = None, sparsity: float = 0.7) -> None:
        if basis is not None and (isinstance(basis, bool) or not isinstance(basis, int)):
            raise ValueError(f"basis must be a positive int or None. Received: basis={basis!r}")
        if basis is not None and basis < 1:
            raise ValueError(f"basis must be a positive int or None. Received: basis={basis!r}")
        if (
            isinstance(sparsity, bool)
            or not isinstance(sparsity, int | float)
            or not 0 <= sparsity < 1
        ):
            raise ValueError(f"sparsity must be in [0, 1). Received: sparsity={sparsity!r}")
        self.basis = basis
        self.sparsity = float(sparsity)

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return a copy with each target conv decomposed.

        Targets default to every ungrouped Conv2D but the first (seed 004
        compresses conv2..conv5) that the decomposition can shrink. The sparse
        kernels are held at zero by a WeightMask while fine-tuning, which runs
        when ``data`` is given.

        Raises:
            NotApplicableError: ``basis`` exceeds min(Cin, kh*kw*m) of a target,
                a named target is grouped or cannot be shrunk by the default
                basis, or no convolution can be.
        """
        source = as_functional(model)
        chosen = resolve_targets(source, targets, "conv", self.code, default=all_but_first)
        sizes = {la.name: self._size(la, named=bool(targets)) for la in chosen}
        kept = [la for la in chosen if sizes[la.name]]
        if not kept:
            raise NotApplicableError(
                f"C1 would grow every convolution it may act on in model {model.name!r}: "
                "a 1x1 basis conv plus kernels on the basis have more weights or MACs than "
                "the layer for any basis size (give basis= to decompose anyway)."
            )
        return rebuild_with_masks(source, kept, self._decompose(sizes), data, fine_tune)

    def _size(self, layer: keras.layers.Layer, named: bool) -> int:
        """The basis size for ``layer``; 0 to skip it (default targets only)."""
        shape = tuple(layer.kernel.shape)
        if layer.groups != 1:
            if named:
                raise NotApplicableError(
                    f"C1 decomposes ungrouped convolutions; layer {layer.name!r} has "
                    f"groups={layer.groups}."
                )
            return 0
        bound = basis_bound(shape)
        if self.basis is not None:
            if self.basis > bound:
                raise NotApplicableError(
                    f"C1 basis cannot exceed min(Cin, kh*kw*m) = {bound} for layer "
                    f"{layer.name!r} of kernel {shape} (PCA finds at most that many "
                    f"directions). Received: basis={self.basis}"
                )
            return self.basis
        size = shrinking_basis(shape, pixel_ratio(layer))
        if not size and named:
            raise NotApplicableError(
                f"C1 cannot shrink layer {layer.name!r} (kernel {shape}): any basis adds "
                "weights or MACs. Give basis= to decompose it anyway."
            )
        return size

    def _decompose(
        self, sizes: dict[str, int]
    ) -> Callable[[dict[str, dict[int, np.ndarray]]], Replacement]:
        return lambda masks: self._replacement(sizes, masks)

    def _replacement(
        self, sizes: dict[str, int], masks: dict[str, dict[int, np.ndarray]]
    ) -> Replacement:
        def replace(layer: keras.layers.Layer, x: object) -> object:
            kernel, *bias = layer.get_weights()
            cin, size = kernel.shape[2], sizes[layer.name]
            basis = channel_basis(kernel, size)
            # Project each kernel column onto the basis: Q = P^T K over Cin.
            projected = np.einsum("hwcm,ck->hwkm", kernel, basis).astype(kernel.dtype)
            mask = sparsify(projected, self.sparsity)
            first = keras.layers.Conv2D(
                size, 1, data_format=layer.data_format, use_bias=False, name=f"{layer.name}_basis"
            )
            second = keras.layers.Conv2D(
                kernel.shape[-1],
                layer.kernel_size,
                strides=layer.strides,
                padding=layer.padding,
                dilation_rate=layer.dilation_rate,
                data_format=layer.data_format,
                activation=layer.activation,
                use_bias=layer.use_bias,
                name=f"{layer.name}_sparse",
            )
            out = second(first(x))
            first.set_weights([basis.reshape(1, 1, cin, size).astype(kernel.dtype)])
            second.set_weights([projected * mask, *bias])
            masks[second.name] = {0: mask}  # weights[0] is the kernel
            return out

        return replace
