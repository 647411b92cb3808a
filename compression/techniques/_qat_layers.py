"""The fake-quantizing Keras layers QAT builds its training model from.

``keras.quantizers.fake_quant_with_min_max_vars`` emits, on the TensorFlow
backend, the ``FakeQuantWithMinMaxVars`` ops the TFLite converter reads as
quantization ranges. Kernels are symmetric on [-127, 127] as TFLite's int8 spec
requires: per output channel for Conv2D and DepthwiseConv2D, per tensor for
Dense (the converter rejects per-channel fully connected weights: "'tfl.transpose'
op has mismatched quantized axes"). Outputs are fake-quantized on a range
tracked by an exponential moving average while training, taken after a ReLU
(which TFLite fuses) and before any other activation.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

# Weight of the running range against each new batch's (tfmot uses 0.999 over
# long trainings; a short fine-tune needs the range to settle in tens of steps).
EMA_DECAY = 0.99
# Activations TFLite fuses into the preceding Dense/Conv2D, so the range is taken after them.
FUSED_ACTIVATIONS = ("linear", "relu", "relu6")


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
class QuantizeActivation(RangeTracker, keras.layers.Layer):
    """Fake-quantizes a tensor on its observed range (after an add, a multiply, ...)."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.add_range()

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.quantize_output(inputs, training)


@keras.saving.register_keras_serializable(package="compresso")
class QuantizeInput(QuantizeActivation):
    """Fake-quantizes the model input on its observed range."""


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


@keras.saving.register_keras_serializable(package="compresso")
class QATDepthwiseConv2D(SavesRange, RangeTracker, keras.layers.DepthwiseConv2D):
    """A DepthwiseConv2D training with a per-channel int8 kernel and an int8 output.

    TFLite stores a depthwise kernel as (1, kh, kw, C * multiplier) with one
    scale per output channel, so the (kh, kw, C, multiplier) kernel is quantized
    per channel of its flattened last two axes.
    """

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        super().build(input_shape)
        self.add_range()

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kh, kw, channels, multiplier = self.kernel.shape
        flat = ops.reshape(self.kernel, (kh, kw, channels * multiplier))
        kernel = ops.reshape(fake_quant_kernel(flat, per_channel=True), self.kernel.shape)
        x = ops.depthwise_conv(
            inputs,
            kernel,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )
        if self.use_bias:
            x = ops.add(x, ops.reshape(self.bias, (1,) * (len(x.shape) - 1) + (-1,)))
        return self.finish(x, training)
