"""The kernels a runtime executes: operators read from the ``.tflite`` flatbuffer.

The converter has already fused what the runtime fuses (a Keras Conv2D +
BatchNormalization + ReLU6 is one CONV_2D with a fused activation), so each
operator of subgraph 0 is one kernel. Each gets the features a kernel-level
latency predictor needs (nn-Meter's, seed-free): MACs, input, output and
weight sizes, kernel size, stride, channels, and the bit widths of its
activations and weights. Per-operator timings come from the local driver's
single-op breakdown (``ops``: index, type, mean_ms) or from the Run Order
table of ``benchmark_model --enable_op_profiling`` (matched by position and
type).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compression.analysis import _OP_MACS, _TYPE_NAMES, _op_name, _parse, _width, read_tflite

NUMERIC_FEATURES = (
    "macs",
    "input_elements",
    "output_elements",
    "weight_elements",
    "kernel_h",
    "kernel_w",
    "stride",
    "in_channels",
    "out_channels",
    "activation_bits",
    "weight_bits",
)


@dataclass(frozen=True)
class Kernel:
    """One operator of the model as the runtime runs it.

    Attributes:
        index: its position in subgraph 0 (the execution order).
        op_type: the builtin operator's name, e.g. ``CONV_2D`` (custom ops by their code).
        macs: multiply-accumulates (0 for operators without a MAC rule).
        input_elements: elements of its run-time (non-constant) inputs.
        output_elements: elements of its outputs.
        weight_elements: elements of its constant inputs (weights, biases).
        kernel_h: filter or pool height (1 when it has none).
        kernel_w: filter or pool width.
        stride: the larger of the two strides (1 when it has none).
        in_channels: the last dimension of its first run-time input.
        out_channels: the last dimension of its first output.
        activation_bits: bit width of its first run-time input.
        weight_bits: bit width of its widest constant input (0 without one).
    """

    index: int
    op_type: str
    macs: int
    input_elements: int
    output_elements: int
    weight_elements: int
    kernel_h: int
    kernel_w: int
    stride: int
    in_channels: int
    out_channels: int
    activation_bits: int
    weight_bits: int

    def features(self) -> list[float]:
        """The numeric features in ``NUMERIC_FEATURES`` order, sizes on a log scale."""
        return [math.log1p(float(getattr(self, name))) for name in NUMERIC_FEATURES]


def kernels_of(tflite: bytes | str | Path) -> list[Kernel]:
    """Every operator of subgraph 0 with its features.

    Args:
        tflite: the file's bytes or path.

    Raises:
        ModelFileError: not a readable TFLite flatbuffer.
    """
    model = _parse(read_tflite(tflite))
    graph = model.subgraphs[0]
    return [_kernel(model, graph, index, op) for index, op in enumerate(graph.operators)]


def _kernel(model: Any, graph: Any, index: int, op: Any) -> Kernel:
    op_type = _op_name(model, op)
    tensors = [graph.tensors[i] for i in op.inputs if i >= 0]
    constant = [t for t in tensors if _is_constant(model, t)]
    running = [t for t in tensors if not _is_constant(model, t)]
    outputs = [graph.tensors[i] for i in op.outputs]
    kernel_h, kernel_w = _window(op_type, op, constant)
    first_in = tuple(running[0].shape) if running else ()
    first_out = tuple(outputs[0].shape) if outputs else ()
    rule = _OP_MACS.get(op_type)
    shapes = [None if i < 0 else tuple(graph.tensors[i].shape) for i in op.inputs]
    return Kernel(
        index=index,
        op_type=op_type,
        macs=int(rule(shapes, first_out)) if rule else 0,
        input_elements=sum(_elements(t) for t in running),
        output_elements=sum(_elements(t) for t in outputs),
        weight_elements=sum(_elements(t) for t in constant),
        kernel_h=kernel_h,
        kernel_w=kernel_w,
        stride=_stride(op),
        in_channels=int(first_in[-1]) if first_in else 0,
        out_channels=int(first_out[-1]) if first_out else 0,
        activation_bits=_bits(running[0]) if running else 0,
        weight_bits=max((_bits(t) for t in constant), default=0),
    )


def _is_constant(model: Any, tensor: Any) -> bool:
    buffer = model.buffers[tensor.buffer] if tensor.buffer else None
    return buffer is not None and (
        (buffer.data is not None and len(buffer.data) > 0) or buffer.offset > 1
    )


def _elements(tensor: Any) -> int:
    return math.prod(int(d) for d in (tensor.shape if tensor.shape is not None else []))


def _bits(tensor: Any) -> int:
    return _width(_TYPE_NAMES.get(tensor.type, str(tensor.type)))


def _window(op_type: str, op: Any, constant: Sequence[Any]) -> tuple[int, int]:
    """(height, width) of the filter (convolutions) or pool window; (1, 1) otherwise."""
    options = op.builtinOptions
    if hasattr(options, "filterHeight"):
        return int(options.filterHeight), int(options.filterWidth)
    if op_type in ("CONV_2D", "DEPTHWISE_CONV_2D") and constant:
        shape = constant[0].shape  # (Cout, kh, kw, Cin) or (1, kh, kw, C)
        return int(shape[1]), int(shape[2])
    if op_type == "TRANSPOSE_CONV" and constant:
        shape = constant[-1].shape if len(constant[0].shape) != 4 else constant[0].shape
        return int(shape[1]), int(shape[2])
    return 1, 1


def _stride(op: Any) -> int:
    options = op.builtinOptions
    if hasattr(options, "strideH"):
        return max(int(options.strideH), int(options.strideW), 1)
    return 1


def timings_from_breakdown(breakdown: Mapping[str, Any], kernels: Sequence[Kernel]) -> list[float]:
    """Per-kernel milliseconds from the local driver's single-op breakdown.

    Args:
        breakdown: ``Result.op_breakdown`` as the local driver stores it (with ``ops``).
        kernels: the model's kernels, to check the breakdown belongs to them.

    Raises:
        ValueError: no per-operator list, or one that does not match the kernels.
    """
    ops = breakdown.get("ops") if isinstance(breakdown, Mapping) else None
    if not ops:
        raise ValueError(
            "The breakdown has no per-operator timings (only types); the kernel predictor "
            f"needs 'ops'. Received: keys={sorted(breakdown) if breakdown else []}"
        )
    by_index = {int(o["index"]): o for o in ops}
    return _matched([(by_index.get(k.index), k) for k in kernels], "type", "mean_ms")


def timings_from_run_order(rows: Sequence[Any], kernels: Sequence[Kernel]) -> list[float]:
    """Per-kernel milliseconds from ``benchmark_model``'s Run Order rows (``OpRow``).

    The rows follow the execution order; a delegate replaces operators by its
    own nodes, so a profile taken with a delegate cannot be matched (run
    ``benchmark_model --use_xnnpack=false --enable_op_profiling=true``).

    Raises:
        ValueError: the rows do not line up with the kernels, one by one.
    """
    if len(rows) != len(kernels):
        raise ValueError(
            f"The op profile has {len(rows)} nodes and the model {len(kernels)} operators; "
            f"a delegate probably replaced some. Received: rows={len(rows)}"
        )
    pairs = [({"type": r.node_type, "ms": r.avg_ms}, k) for r, k in zip(rows, kernels, strict=True)]
    return _matched(pairs, "type", "ms")


def _matched(pairs: Sequence[tuple[Any, Kernel]], type_key: str, ms_key: str) -> list[float]:
    times = []
    for entry, kernel in pairs:
        if entry is None or entry[type_key] != kernel.op_type:
            found = None if entry is None else entry[type_key]
            raise ValueError(
                f"The timings do not match the model: operator {kernel.index} is "
                f"{kernel.op_type}. Received: {found!r}"
            )
        times.append(float(entry[ms_key]))
    return times
