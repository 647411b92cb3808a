"""Cl: weight sharing by k-means clustering (Deep Compression, Han et al. 2016).

Each target kernel's values are clustered into ``k`` centroids; every weight
is replaced by its centroid, so the layer stores a log2(k)-bit index per weight
plus a k-entry table. Fine-tuning keeps the assignment fixed and trains the
centroids: after every optimizer step each centroid becomes the mean of its
members' updated values, which for SGD is the centroid minus the learning rate
times the cluster's mean gradient (Han et al. section 3.3, with the averaged
rather than summed gradient).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import keras
import numpy as np
from sklearn.cluster import KMeans

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.kernel_targets import ALL_KINDS, kernel_layers, named_targets
from compression.surgery import copy_model
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune, LayerConstraint


def cluster_values(values: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cluster the values of an array into at most ``k`` shared centroids.

    The centroids start evenly spaced between the smallest and the largest
    value (Han et al. 2016 found this linear initialisation keeps the rare
    large weights, which matter most, better than random or density-based
    starts).

    Args:
        values: any array; it is flattened.
        k: number of clusters; fewer are used if there are fewer distinct values.
        seed: KMeans' random state, so the result repeats.

    Returns:
        ``(centroids, labels)``: a (k',) float32 table and, for every value in
        flattened order, the int index of its centroid.
    """
    flat = np.asarray(values, dtype="float64").reshape(-1, 1)
    k = min(k, len(np.unique(flat)))
    start = np.linspace(flat.min(), flat.max(), k).reshape(-1, 1)
    kmeans = KMeans(n_clusters=k, init=start, n_init=1, random_state=seed).fit(flat)
    return kmeans.cluster_centers_.ravel().astype("float32"), kmeans.labels_.astype("int64")


class SharedCentroids(LayerConstraint):
    """Ties every weight of a cluster to one shared value while training.

    After each train batch, each cluster's centroid is recomputed as the mean
    of its members' (individually updated) values and written back to all of
    them; the cluster assignment never changes.

    Args:
        labels: layer name -> flat cluster index of every kernel value.
    """

    def __init__(self, labels: Mapping[str, np.ndarray]) -> None:
        super().__init__()
        self.labels = labels

    def share(self, model: keras.Model) -> None:
        """Replace every clustered weight by its cluster's mean."""
        for name, labels in self.labels.items():
            kernel = model.get_layer(name).kernel
            values = keras.ops.convert_to_numpy(kernel).ravel()
            count = np.bincount(labels)
            centroids = np.bincount(labels, weights=values) / np.maximum(count, 1)
            kernel.assign(centroids[labels].astype("float32").reshape(kernel.shape))

    def enforce(self, model: keras.Model) -> None:
        self.share(model)

    def restrict(self, model: keras.Model, dropped: Collection[str] = ()) -> SharedCentroids | None:
        layers = {layer.name: layer for layer in model.layers}
        kept = {
            name: labels
            for name, labels in self.labels.items()
            if name not in dropped
            and name in layers
            and getattr(layers[name], "kernel", None) is not None
            and int(np.prod(layers[name].kernel.shape)) == labels.size
        }
        return SharedCentroids(kept) if kept else None


@register
class Cl(Technique):
    """Deep Compression weight sharing by k-means on each kernel."""

    code = "Cl"
    name = "Weight clustering"
    acts_on = "every Dense, Conv2D and DepthwiseConv2D kernel"
    category = "clustering"
    applies_to = "model"
    description = (
        "Clusters each Dense, Conv2D and DepthwiseConv2D kernel's weights into k shared "
        "values with k-means (centroids initialised evenly between the smallest and largest "
        "weight), replaces every weight by its centroid, then fine-tunes the "
        "centroids with the assignment fixed. The layer can then be stored as "
        "log2(k)-bit indices plus a k-entry table; biases are left as they are."
    )
    reference = (
        "Han, Mao, Dally. Deep Compression: Compressing Deep Neural Networks with "
        "Pruning, Trained Quantization and Huffman Coding. ICLR 2016."
    )
    param_names = ("k",)

    def __init__(self, k: int = 16) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 256:
            raise ValueError(f"k must be an integer in 2..256. Received: k={k!r}")
        self.k = k

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Cluster the target kernels of a copy of ``model``; fine-tune if data is given.

        Args:
            model: the model to compress; it is not modified.
            targets: Dense, Conv2D or DepthwiseConv2D layer names; ``None`` means
                every such layer, the output layer included (as Han et al.).
            data: when given, the centroids are fine-tuned on its train split.
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

        Returns:
            A new model whose clustered kernels hold at most ``k`` distinct values.
        """
        clustered = copy_model(model)
        labels = {}
        for layer in _clusterable(clustered, targets, self.code):
            values = keras.ops.convert_to_numpy(layer.kernel)
            centroids, labels[layer.name] = cluster_values(values, self.k)
            layer.kernel.assign(centroids[labels[layer.name]].reshape(values.shape))
        training.attach(clustered, SharedCentroids(labels))
        if data is not None:
            training.fine_tune(clustered, data, fine_tune or FineTune())
        return clustered


def _clusterable(
    model: keras.Model, targets: Sequence[str] | None, code: str
) -> list[keras.layers.Layer]:
    """The Dense, Conv2D and DepthwiseConv2D layers to cluster.

    Raises:
        NotApplicableError: a named layer is missing or of another kind, or
            the model has no layer with such a kernel.
    """
    if targets:
        return named_targets(model, targets, ALL_KINDS, code)
    chosen = kernel_layers(model, ALL_KINDS)
    if not chosen:
        raise NotApplicableError(
            f"{code} needs a Dense, Conv2D or DepthwiseConv2D layer and model "
            f"{model.name!r} has none."
        )
    return chosen
