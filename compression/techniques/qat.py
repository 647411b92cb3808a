"""QAT: quantization-aware training for int8 TFLite (Jacob et al. 2018).

tensorflow-model-optimization does not support Keras 3, so the fake
quantization is written here with ``keras.quantizers.fake_quant_with_min_max_vars``,
which on the TensorFlow backend emits the ``FakeQuantWithMinMaxVars`` ops the
TFLite converter reads as quantization ranges. The model is rebuilt with:

* the input fake-quantized on its observed range;
* every Dense and Conv2D computing with a fake-quantized kernel, symmetric on
  [-127, 127] as TFLite's int8 spec requires: per output channel for Conv2D,
  per tensor for Dense (the converter rejects per-channel fully connected
  weights: "'tfl.transpose' op has mismatched quantized axes");
* every Dense and Conv2D output fake-quantized on a range tracked by an
  exponential moving average while training, taken after a ReLU (which TFLite
  fuses) and before any other activation such as the final softmax (whose int8
  output range TFLite fixes itself).

Fine-tuning then adapts the weights to the rounding (straight-through
gradients), and the export reads every range from the graph, so the
``.tflite`` holds int8 weights and activations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from compression import training
from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.export import DEFAULT_CALIBRATION_SAMPLES, to_tflite
from compression.surgery import as_functional, is_kind
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune

# Weight of the running range against each new batch's (tfmot uses 0.999 over
# long trainings; a short fine-tune needs the range to settle in tens of steps).
EMA_DECAY = 0.99
# Activations TFLite fuses into the preceding Dense/Conv2D, so the range is taken after them.
FUSED_ACTIVATIONS = ("linear", "relu", "relu6")
# Weightless layers whose int8 kernels reuse their input's range (no range of their own).
PASS_THROUGH = (
    keras.layers.InputLayer,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Dropout,
    keras.layers.Softmax,
)


def fake_quant_kernel(kernel: Any, per_channel: bool) -> Any:
    """Round a kernel to symmetric int8 levels, with straight-through gradients."""
    # The 1e-8 floor keeps an all-zero channel (a pruned filter) from having an empty range.
    if per_channel:  # one scale per output channel, the last axis
        axes = tuple(range(len(kernel.shape) - 1))
        amax = ops.maximum(ops.max(ops.abs(kernel), axis=axes), 1e-8)
        return keras.quantizers.fake_quant_with_min_max_vars(
            kernel, -amax, amax, num_bits=8, narrow_range=True, axis=-1
        )
    amax = ops.maximum(ops.max(ops.abs(kernel)), 1e-8)
    return keras.quantizers.fake_quant_with_min_max_vars(
        kernel, -amax, amax, num_bits=8, narrow_range=True
    )


class RangeTracker:
    """Mixin: a tracked [min, max] range that fake-quantizes a tensor to 8 bits.

    The range starts as the first training batch's and then follows an
    exponential moving average; it always contains 0 so zero is exact.
    """

    def add_range(self) -> None:
        """Create the range variables (call from ``build``)."""
        make = self.add_weight  # type: ignore[attr-defined]
        self.range_min = make(name="range_min", shape=(), initializer="zeros", trainable=False)
        self.range_max = make(name="range_max", shape=(), initializer="zeros", trainable=False)
        self.range_steps = make(name="range_steps", shape=(), initializer="zeros", trainable=False)

    def quantize_output(self, x: Any, training: bool | None) -> Any:
        """Update the range if training, then fake-quantize ``x`` on it."""
        if training:
            first = ops.equal(self.range_steps, 0.0)
            for variable, seen in (
                (self.range_min, ops.minimum(ops.min(x), 0.0)),
                (self.range_max, ops.maximum(ops.max(x), 0.0)),
            ):
                moved = EMA_DECAY * variable + (1.0 - EMA_DECAY) * seen
                variable.assign(ops.where(first, seen, moved))
            self.range_steps.assign_add(1.0)
        return keras.quantizers.fake_quant_with_min_max_vars(
            x, self.range_min, self.range_max, num_bits=8
        )

    def finish(self, x: Any, training: bool | None) -> Any:
        """Apply the activation, quantizing where TFLite will."""
        if self.activation.__name__ in FUSED_ACTIVATIONS:  # type: ignore[attr-defined]
            return self.quantize_output(self.activation(x), training)  # type: ignore[attr-defined]
        return self.activation(self.quantize_output(x, training))  # type: ignore[attr-defined]


class SavesRange:
    """Mixin for Dense/Conv2D subclasses: keep the range in ``.keras`` files.

    Dense and Conv2D save only their kernel and bias; the range variables are
    stored beside them under their own names.
    """

    RANGE = ("range_min", "range_max", "range_steps")

    def save_own_variables(self, store: Any) -> None:
        super().save_own_variables(store)  # type: ignore[misc]
        for name in self.RANGE:
            store[name] = getattr(self, name)

    def load_own_variables(self, store: Any) -> None:
        super().load_own_variables(store)  # type: ignore[misc]
        for name in self.RANGE:
            getattr(self, name).assign(store[name])


@keras.saving.register_keras_serializable(package="compresso")
class QuantizeInput(RangeTracker, keras.layers.Layer):
    """Fake-quantizes the model input on its observed range."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.add_range()

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.quantize_output(inputs, training)


@keras.saving.register_keras_serializable(package="compresso")
class QATDense(SavesRange, RangeTracker, keras.layers.Dense):
    """A Dense layer training with a per-tensor int8 kernel and an int8 output."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        super().build(input_shape)
        self.add_range()

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = ops.matmul(inputs, fake_quant_kernel(self.kernel, per_channel=False))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.finish(x, training)


@keras.saving.register_keras_serializable(package="compresso")
class QATConv2D(SavesRange, RangeTracker, keras.layers.Conv2D):
    """A Conv2D layer training with a per-channel int8 kernel and an int8 output."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        super().build(input_shape)
        self.add_range()

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.convolution_op(inputs, fake_quant_kernel(self.kernel, per_channel=True))
        if self.use_bias:
            x = ops.add(x, ops.reshape(self.bias, (1,) * (len(x.shape) - 1) + (self.filters,)))
        return self.finish(x, training)


# The quantized class standing in for each layer kind.
QUANTIZED = {"fc": QATDense, "conv": QATConv2D}


def quantization_aware(model: keras.Model) -> keras.Model:
    """A copy of ``model`` that trains with int8 fake quantization.

    Args:
        model: a model of Dense, Conv2D and pass-through layers; not modified.

    Returns:
        A functional model with the same layer names and weights, whose
        activation ranges are learned on its first training batches.

    Raises:
        NotApplicableError: a layer the int8 export cannot take a range for.
    """
    source = as_functional(model)
    _check_supported(source)
    quantize_input = QuantizeInput(name="quantize_input")

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        kind = next((kind for kind in QUANTIZED if is_kind(layer, kind)), None)
        cls = QUANTIZED[kind] if kind else type(layer)
        return cls.from_config(layer.get_config())

    def call(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        x, *rest = args
        if isinstance(x._keras_history.operation, keras.layers.InputLayer):
            x = quantize_input(x)
        return layer(x, *rest, **kwargs)

    quantized = keras.models.clone_model(source, clone_function=clone, call_function=call)
    for layer in source.layers:
        # Kernel and bias come first in the quantized layers; the range follows.
        mine = quantized.get_layer(layer.name).weights[: len(layer.weights)]
        for variable, value in zip(mine, layer.weights, strict=True):
            variable.assign(value)
    return quantized


def _check_supported(model: keras.Model) -> None:
    for layer in model.layers:
        if isinstance(layer, RangeTracker):
            raise NotApplicableError(f"Model {model.name!r} is already quantization-aware.")
        if any(is_kind(layer, kind) for kind in QUANTIZED):
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                raise NotApplicableError(
                    f"QAT handles channels_last convolutions; layer {layer.name!r} is "
                    f"{layer.data_format}."
                )
            continue
        if isinstance(layer, PASS_THROUGH) or (
            isinstance(layer, keras.layers.Activation)
            and layer.get_config()["activation"] == "softmax"
        ):
            continue
        raise NotApplicableError(
            "QAT handles Dense, Conv2D, pooling, flatten, reshape, dropout and softmax layers; "
            f"layer {layer.name!r} is {type(layer).__name__}."
        )


@register
class QAT(Technique):
    """Fine-tunes with int8 fake quantization, then exports a full-integer TFLite model."""

    code = "QAT"
    name = "Quantization-aware training"
    category = "quantization"
    applies_to = "model"
    description = (
        "Rebuilds the model so that training sees int8 rounding: kernels are fake-quantized "
        "to 8 bits (per output channel for convolutions) and every layer's output to 8 bits "
        "on a range tracked while training; fine-tuning lets the weights adapt to the "
        "rounding. The TFLite export reads those ranges, giving int8 weights, activations, "
        "input and output, like Q-int8 but with the accuracy loss trained away."
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
            fine_tune: fine-tuning budget; ``FineTune()`` by default.

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
