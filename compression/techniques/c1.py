"""C1: sparse convolution-kernel decomposition (Liu et al. 2015, Sparse CNN).

A kh x kw conv K with Cin inputs and m filters becomes two stages: a 1x1 conv
P mapping the Cin input channels onto Cin' basis channels, then kh x kw
kernels Q on the basis channels, most of them zero. With P's columns
orthonormal, Q = P^T K (over the input-channel axis) gives P Q = K exactly
when Cin' = Cin, so the pair starts as the original conv and only the zeroed
kernel entries cost accuracy. Weights: Cin*Cin' + nnz(Q) (seed 004, 5.2.1).
"""

from __future__ import annotations

from collections.abc import Sequence

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


def sparsify(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask zeroing exactly round(sparsity * size) smallest-magnitude entries."""
    count = round(sparsity * kernel.size)
    order = np.argsort(np.abs(kernel), axis=None, kind="stable")
    mask = np.ones(kernel.size, dtype=kernel.dtype)
    mask[order[:count]] = 0
    return mask.reshape(kernel.shape)


@register
class C1(Technique):
    """Sparse kernel decomposition: PCA channel basis plus sparse kernels."""

    code = "C1"
    name = "Sparse convolution-kernel decomposition"
    category = "convolution decomposition"
    applies_to = "conv"
    description = (
        "Replaces a convolution by a 1x1 convolution onto a channel basis found by PCA "
        "of the kernel over its input channels, followed by kh x kw kernels on the basis "
        "channels obtained by projecting the original kernel onto the basis; the "
        "smallest-magnitude fraction `sparsity` of those kernels is zeroed and held at zero "
        "while fine-tuning. Weights: Cin*basis + the non-zero kernel entries."
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

        Targets default to every Conv2D but the first (seed 004 compresses
        conv2..conv5). The sparse kernels are held at zero by a WeightMask
        while fine-tuning, which runs when ``data`` is given.

        Raises:
            NotApplicableError: ``basis`` exceeds a target's input channels.
        """
        source = as_functional(model)
        chosen = resolve_targets(source, targets, "conv", self.code, default=all_but_first)
        return rebuild_with_masks(source, chosen, self._decompose, data, fine_tune)

    def _decompose(self, masks: dict[str, dict[int, np.ndarray]]) -> Replacement:
        def replace(layer: keras.layers.Layer, x: object) -> object:
            kernel, *bias = layer.get_weights()
            cin = kernel.shape[2]
            size = cin if self.basis is None else self.basis
            if size > cin:
                raise NotApplicableError(
                    f"C1 basis cannot exceed the {cin} input channels of {layer.name!r}. "
                    f"Received: basis={self.basis}"
                )
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
