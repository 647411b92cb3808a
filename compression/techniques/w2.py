"""W2: sparse-coding factorization of dense layers (SparseSep, Bhattacharya & Lane 2016).

The kernel W (n x m) of a dense layer is written W ~ A D, with D a dictionary
of k atoms (k x m) and A (n x k) the sparse code of every row of W, learned by
scikit-learn's ``DictionaryLearning``. The layer becomes Dense(k) holding A,
whose zeros are kept through fine-tuning, then Dense(m) holding D with the
original activation and bias; what must be stored is nnz(A) + k*m (+ bias).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from numbers import Real

import keras
import numpy as np
from sklearn.decomposition import DictionaryLearning
from sklearn.exceptions import ConvergenceWarning

from compression import training
from compression.data.base import Dataset
from compression.surgery import as_functional, rebuild
from compression.techniques import register
from compression.techniques.base import Technique
from compression.techniques.w1f import (
    check_rank,
    dense_targets,
    divisor_for,
    kernel_matrix,
    rank_for,
    two_dense,
)
from compression.training import FineTune, WeightMask

# SparseSep / AdaDeep 5.2.1 use a k = m/6 atom dictionary.
DEFAULT_DIVISOR = 6
# Alternations of sparse coding and dictionary update: a few keep it fast and
# fine-tuning corrects the rest.
MAX_ITER = 20


def sparse_factors(
    kernel: np.ndarray, k: int, alpha: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Learn W ~ A D with a k-atom dictionary and lasso-sparse codes.

    The kernel is divided by its root-mean-square value before learning (and
    the codes multiplied back), so ``alpha`` means the same on every layer
    whatever the scale of its weights.

    Args:
        kernel: W, an (n, m) matrix whose rows are coded.
        k: number of atoms.
        alpha: L1 penalty of the codes; larger gives sparser codes.
        seed: random state of the learner, so results repeat.

    Returns:
        ``(codes, dictionary)``: A of shape (n, k), D of shape (k, m), float32.
    """
    w = np.asarray(kernel, dtype="float64")
    scale = float(np.sqrt(np.mean(w**2))) or 1.0
    learner = DictionaryLearning(
        n_components=k, alpha=alpha, max_iter=MAX_ITER, fit_algorithm="cd", random_state=seed
    )
    with warnings.catch_warnings():
        # Few iterations on purpose; the coordinate-descent lasso warns about it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        codes = learner.fit_transform(w / scale)
    return (codes * scale).astype("float32"), learner.components_.astype("float32")


def sparse_dense(
    layer: keras.layers.Layer, x: object, codes: np.ndarray, dictionary: np.ndarray
) -> object:
    """Replace ``layer`` on input ``x`` by Dense(k) holding A, then Dense(m) holding D."""
    return two_dense(layer, x, codes, dictionary, ("codes", "atoms"))


def _mask_of(codes: np.ndarray, layer: keras.layers.Layer) -> np.ndarray:
    """1 where a code is nonzero, shaped as the codes layer's kernel ((1, 1, n, k) for a conv)."""
    return (codes != 0).astype("float32").reshape(layer.kernel.shape)


@register
class W2(Technique):
    """Sparse-coding factorization of dense layers."""

    code = "W2"
    name = "Sparse-coding factorization of dense layers"
    acts_on = (
        "Dense layers (and the 1x1 Conv2D of a pooled head, as in MobileNetV3): the hidden ones "
        "by default, the classifier when it is the only one"
    )
    category = "weight factorization"
    applies_to = "fc"
    description = (
        "Learns a dictionary of k atoms for the rows of each target dense kernel W "
        "(n x m) and codes every row sparsely on it (scikit-learn DictionaryLearning, "
        "lasso penalty alpha on the codes), so W ~ A D. The layer becomes a dense layer "
        "n -> k holding the sparse codes A, whose zeros stay zero while fine-tuning, "
        "then a dense layer k -> m holding the dictionary D with the original activation "
        "and bias. Storage is nnz(A) + k*m; k defaults to m/6. Targets are the hidden Dense "
        "layers, or the classifier head when it is the only Dense layer (k then defaults "
        "to half the classes)."
    )
    reference = (
        "Bhattacharya, Lane. Sparsification and Separation of Deep Learning Layers for "
        "Constrained Resource Inference on Wearables (SparseSep). SenSys 2016; Liu et al. "
        "AdaDeep, IEEE TMC 2020, section 5.2.1."
    )
    param_names = ("k", "alpha")

    def __init__(self, k: int | None = None, alpha: float = 1.0) -> None:
        self.k = check_rank(k)
        if (
            isinstance(alpha, bool)
            or not isinstance(alpha, Real)
            or not (math.isfinite(alpha) and alpha > 0)
        ):
            raise ValueError(f"alpha must be a positive number. Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Sparse-code the target dense layers of a copy of ``model``.

        Args:
            model: the model to compress; it is not modified.
            targets: Dense layer names; ``None`` means every Dense layer but the
                output, or the output layer when it is the only Dense layer.
            data: when given, the model is fine-tuned with the codes' zeros held.
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

        Returns:
            A new model in which each target is ``<name>_codes`` (n -> k, sparse)
            followed by ``<name>_atoms`` (k -> m).
        """
        source = as_functional(model)  # outputs known; rebuild keeps model's constraints
        layers = dense_targets(source, targets, self.code)
        factors = {}
        for layer in layers:
            matrix = kernel_matrix(layer)
            divisor = divisor_for(source, layer, DEFAULT_DIVISOR)
            k = rank_for(self.code, layer.name, self.k, *matrix.shape, divisor)
            factors[layer.name] = sparse_factors(matrix, k, self.alpha)
        coded = rebuild(
            model,
            {name: lambda la, x, f=pair: sparse_dense(la, x, *f) for name, pair in factors.items()},
        )
        # Index 0 of the bias-free codes layer's weights is its kernel A.
        masks = {
            f"{name}_codes": {0: _mask_of(codes, coded.get_layer(f"{name}_codes"))}
            for name, (codes, _) in factors.items()
        }
        training.attach(coded, WeightMask(masks))
        if data is not None:
            training.fine_tune(coded, data, fine_tune or FineTune())
        return coded
