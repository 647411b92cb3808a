"""QAT: quantization-aware training for int8 TFLite (Jacob et al. 2018).

tensorflow-model-optimization does not support Keras 3, so the fake
quantization is written here (``_qat_layers``) with
``keras.quantizers.fake_quant_with_min_max_vars``. The model is rebuilt as the
TFLite converter will see it, then fine-tuned so the weights adapt to the
rounding (straight-through gradients):

* BatchNormalization after a Dense, Conv2D or DepthwiseConv2D is folded into
  that layer's kernel and bias, and a ReLU/ReLU6 after it becomes the layer's
  activation, as the converter fuses them (``compression.folding``);
* the input is fake-quantized on its observed range;
* every Dense, Conv2D and DepthwiseConv2D computes with a fake-quantized int8
  kernel and fake-quantizes its output on a range tracked while training;
* Rescaling and Normalization of an image become a frozen 1x1
  DepthwiseConv2D (the per-channel affine map they are), or vanish when they
  are the identity;
* every other layer that makes new values (Add, Multiply, Concatenate, an
  unfolded BatchNormalization, activations such as swish, hard-swish and
  sigmoid) gets a range of its own after it;
* layers that only move or select values (ZeroPadding2D, pooling, Reshape,
  Flatten, Dropout) pass their input's range through, as their int8 kernels
  do; softmax's int8 output range is fixed by TFLite.

The export reads every range from the graph, so the ``.tflite`` holds int8
weights and activations, input and output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.export import DEFAULT_CALIBRATION_SAMPLES, to_tflite
from compression.folding import Fold, affine_map, find_folds, folded_weights
from compression.kernel_targets import kind_of
from compression.surgery import as_functional
from compression.techniques import register
from compression.techniques._qat_layers import (
    FUSED_ACTIVATIONS,
    QATConv2D,
    QATDense,
    QATDepthwiseConv2D,
    QuantizeActivation,
    QuantizeInput,
    RangeTracker,
    fake_quant_kernel,
)
from compression.techniques.base import Technique
from compression.training import FineTune

# The quantized class standing in for each kernel layer kind.
QUANTIZED = {"Dense": QATDense, "Conv2D": QATConv2D, "DepthwiseConv2D": QATDepthwiseConv2D}
# Weightless layers whose int8 kernels reuse their input's range (no range of their own).
PASS_THROUGH = (
    keras.layers.InputLayer,
    keras.layers.ZeroPadding2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Dropout,
    keras.layers.Softmax,
)
# Layers that make new values: a range is tracked on their output.
RANGED = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Concatenate,
    keras.layers.Rescaling,
    keras.layers.Normalization,
    keras.layers.BatchNormalization,
    keras.layers.ReLU,
    keras.layers.Activation,
)
# Activations with an int8 TFLite kernel (Keras function names; swish is silu).
ACTIVATIONS = (
    "linear",
    "relu",
    "relu6",
    "sigmoid",
    "hard_sigmoid",
    "silu",
    "hard_silu",
    "tanh",
    "softmax",
)

# BatchNormalization is folded, so the copy trains without normalization; from
# trained weights a deep one diverges at Adam's usual step (ResNet50 at 32x32x3 on
# digits: validation accuracy 0.97 -> 0.11 in the first epoch at 1e-3, 0.91 at 1e-4).
# QAT fine-tunes at this fraction of the budget's learning rate, as QAT recipes use a
# small step on trained weights.
LEARNING_RATE_FRACTION = 0.1

__all__ = ["QAT", "QATConv2D", "QATDense", "QATDepthwiseConv2D", "fake_quant_kernel"]


def quantization_aware(model: keras.Model) -> keras.Model:
    """A copy of ``model``, BatchNormalization folded, that trains with int8 fake quantization.

    Args:
        model: a model of the layers listed in ``QUANTIZED``, ``PASS_THROUGH``
            and ``RANGED``; not modified.

    Returns:
        A functional model keeping the names of the layers that remain;
        activation ranges are learned on its first training batches.

    Raises:
        NotApplicableError: a layer the int8 export cannot take a range for.
    """
    source = as_functional(model)
    _check_supported(source)
    rewrite = _Rewrite(source)
    quantized = keras.models.clone_model(
        source, clone_function=rewrite.clone, call_function=rewrite.call
    )
    rewrite.set_weights(quantized)
    return quantized


class _Rewrite:
    """How each layer of ``source`` appears in the quantization-aware model."""

    def __init__(self, source: keras.Model) -> None:
        self.source = source
        self.folds = find_folds(source)
        self.affine = {la.name: m for la in source.layers if (m := affine_map(la)) is not None}
        identity = {name for name, pair in self.affine.items() if _is_identity(*pair)}
        self.absorbed = {name for fold in self.folds.values() for name in fold.absorbed}
        self.absorbed |= identity
        self.ranged = {
            la.name
            for la in source.layers
            if la.name not in self.affine and _needs_range(la, self.folds.get(la.name))
        }
        self.inputs: dict[int, Any] = {}

    def clone(self, layer: keras.layers.Layer) -> keras.layers.Layer:
        """The layer standing in for ``layer`` (built, then given weights by ``set_weights``)."""
        if layer.name in self.affine:  # frozen: it is the model's preprocessing
            return QATDepthwiseConv2D(1, name=layer.name, trainable=False)
        config = layer.get_config()
        fold = self.folds.get(layer.name)
        if fold is not None:
            config |= {"activation": fold.activation, "use_bias": layer.use_bias or bool(fold.norm)}
        return QUANTIZED.get(kind_of(layer) or "", type(layer)).from_config(config)

    def call(self, layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        """Call ``layer`` in the new graph: skipped if absorbed, ranged if it makes new values."""
        if layer.name in self.absorbed:
            return args[0]
        out = layer(*keras.tree.map_structure(self._quantize_input, args), **kwargs)
        if layer.name in self.ranged:
            out = QuantizeActivation(name=f"{layer.name}_quant")(out)
        return out

    def _quantize_input(self, x: Any) -> Any:
        if not isinstance(getattr(x, "_keras_history", (None,))[0], keras.layers.InputLayer):
            return x
        if id(x) not in self.inputs:  # one range per model input, however many readers
            name = f"quantize_input_{len(self.inputs)}" if self.inputs else "quantize_input"
            self.inputs[id(x)] = QuantizeInput(name=name)(x)
        return self.inputs[id(x)]

    def set_weights(self, quantized: keras.Model) -> None:
        """Copy (or fold) every source layer's weights into ``quantized``."""
        for layer in self.source.layers:
            if layer.name in self.absorbed or not (layer.weights or layer.name in self.affine):
                continue
            fold = self.folds.get(layer.name)
            if layer.name in self.affine:
                scale, offset = self.affine[layer.name]
                values = [scale.reshape(1, 1, -1, 1), offset]
            elif fold is not None and fold.norm:
                values = folded_weights(layer, self.source.get_layer(fold.norm))
            else:
                values = layer.get_weights()
            # Kernel and bias come first in the quantized layers; the range follows.
            mine = quantized.get_layer(layer.name).weights[: len(values)]
            for variable, value in zip(mine, values, strict=True):
                variable.assign(value)


def _is_identity(scale: np.ndarray, offset: np.ndarray) -> bool:
    """keras.applications' Normalization without ImageNet weights is mean 0, variance 1."""
    return bool(np.all(scale == 1.0) and np.all(offset == 0.0))


def _needs_range(layer: keras.layers.Layer, fold: Fold | None) -> bool:
    """Whether ``layer``'s output needs a range besides any the layer tracks itself."""
    own = getattr(getattr(layer, "activation", None), "__name__", "linear")
    activation = fold.activation if fold else own
    if kind_of(layer) is not None:  # tracks its output before a non-fused activation
        return activation not in (*FUSED_ACTIVATIONS, "softmax")
    if isinstance(layer, keras.layers.Activation):
        return activation != "softmax"  # TFLite fixes softmax's int8 output range
    return isinstance(layer, RANGED)


def _check_supported(model: keras.Model) -> None:
    for layer in model.layers:
        if isinstance(layer, RangeTracker):
            raise NotApplicableError(f"Model {model.name!r} is already quantization-aware.")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise NotApplicableError(
                f"QAT handles channels_last layers; layer {layer.name!r} is {layer.data_format}."
            )
        activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
        if activation not in ACTIVATIONS:
            raise NotApplicableError(
                f"QAT has no int8 kernel for activation {activation!r} of layer {layer.name!r}; "
                f"it handles {', '.join(ACTIVATIONS)}."
            )
        if kind_of(layer) is not None or isinstance(layer, PASS_THROUGH + RANGED):
            continue
        raise NotApplicableError(
            "QAT handles Dense, Conv2D, DepthwiseConv2D, BatchNormalization, pooling, padding, "
            "flatten, reshape, dropout, add, multiply, concatenate, rescaling, normalization "
            f"and activation layers; layer {layer.name!r} is {type(layer).__name__}."
        )


@register
class QAT(Technique):
    """Fine-tunes with int8 fake quantization, then exports a full-integer TFLite model."""

    code = "QAT"
    name = "Quantization-aware training"
    acts_on = (
        "the whole model: Dense, Conv2D and DepthwiseConv2D (BatchNormalization folded in, "
        "ReLU fused), activations fake-quantized"
    )
    category = "quantization"
    applies_to = "model"
    description = (
        "Rebuilds the model as the int8 TFLite model will compute it, then fine-tunes it so "
        "the weights adapt to the rounding: BatchNormalization is folded into the Dense, "
        "Conv2D or DepthwiseConv2D before it (and a ReLU/ReLU6 after it fused), kernels are "
        "fake-quantized to 8 bits (per output channel for convolutions), and the output of "
        "every layer that makes new values (convolutions, Add, Multiply, Concatenate, "
        "activations such as swish, hard-swish and sigmoid) to 8 bits on a range tracked "
        "while training; padding, pooling, Reshape and Dropout pass ranges through, and "
        "Rescaling/Normalization become a frozen 1x1 depthwise convolution. The TFLite "
        "export reads those ranges, giving int8 weights, activations, input and output, "
        "like Q-int8 but with the accuracy loss trained away."
    )
    reference = (
        "Jacob et al. Quantization and Training of Neural Networks for Efficient "
        "Integer-Arithmetic-Only Inference. CVPR 2018; Krishnamoorthi 2018."
    )
    export_mode = "int8"
    needs_data = True

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Fine-tune a fake-quantized copy of ``model``.

        Args:
            model: the trained model; it is not modified.
            targets: must be empty: the whole model is quantized.
            data: training data (required); the ranges are learned on it.
            fine_tune: fine-tuning budget; ``FineTune()`` by default. It trains at
                ``LEARNING_RATE_FRACTION`` of the budget's learning rate.

        Returns:
            The quantization-aware model; export it with ``export_tflite``.
        """
        if targets:
            raise NotApplicableError(
                "QAT quantizes the whole model and takes no target layers. "
                f"Received: targets={list(targets)}"
            )
        if data is None:
            raise ValueError(
                "QAT learns activation ranges and needs a dataset. Received: data=None"
            )
        budget = fine_tune or FineTune()
        if budget.epochs == 0:
            raise ValueError("QAT learns its activation ranges while fine-tuning; give it 1 epoch.")
        step = budget.learning_rate * LEARNING_RATE_FRACTION
        budget = dataclasses.replace(budget, learning_rate=step)
        quantized = quantization_aware(model)
        training.fine_tune(quantized, data, budget)
        return quantized

    def export_tflite(self, model: keras.Model, data: Dataset | None = None) -> bytes:
        """Export a model from ``apply`` as a full-integer ``.tflite``.

        The converter takes every range from the fake-quantization ops; the
        representative sample only satisfies the int8 mode's interface.

        Raises:
            ValueError: no data was given.
        """
        if data is None:
            raise ValueError("QAT's int8 export needs the dataset. Received: data=None")
        return to_tflite(model, "int8", data.representative_sample(DEFAULT_CALIBRATION_SAMPLES))
