"""Static metrics of a model: parameters, storage, MACs, file sizes, energy estimate.

Storage follows AdaDeep (seed 004, eq. 3): S = Sf + Sp = |X| Ba + |W| Bw, the
activations' and the weights' element counts times their bit widths. The
Keras side counts every weight at its variable's width (32 bits for float32)
and every layer output for a batch of 1; the ``.tflite`` side reads the
flatbuffer itself, so each tensor is counted at the width the file really
stores (int8 8, float16 16, float32 and int32 biases 32).

MACs (multiply-accumulates per inference, batch 1) are counted for the layers
that do them: dense n->m is n*m per position; a convolution is output
positions x the kernel's size (kh*kw*Cin/groups*Cout, or kh*kw*Cin*multiplier
for a depthwise one; a separable one adds its two kernels); a transposed
convolution is input positions x its kernel. Pooling, activations,
normalisation, reshapes and element-wise ops count 0 MACs: they do no
multiply-accumulate, or (batch normalisation) fold into the convolution at
export.
"""

from __future__ import annotations

import gzip
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from compression.errors import ModelFileError

# Energy per MAC on mobile devices, picojoules (seed 004, after eq. 5).
E1_PJ = 52.8
# Cache and DRAM access cost per bit relative to one MAC (seed 004, eq. 5, after [48]).
CACHE_PER_MAC = 6
DRAM_PER_MAC = 200
PJ_PER_MJ = 1e9

# ---------------------------------------------------------------- Keras side


def analyze_keras(model: keras.Model) -> dict[str, Any]:
    """Parameters, storage bits and MACs of a Keras model, nested models included.

    Exact for the layer types listed in the module docstring; a layer called
    several times (shared) is counted at its first call only.

    Args:
        model: a built Keras model (functional, or Sequential with an input).

    Returns:
        ``params``, ``nonzero_params``, ``sp_bits`` (weights x their width),
        ``sf_bits`` (input plus every layer's output for batch 1, x their
        width), ``macs`` and ``by_layer_type`` {class name: {"params", "macs"}}.
    """
    try:
        inputs = model.inputs
    except AttributeError:  # a Sequential model never built on an input
        raise ValueError(
            f"Model {model.name!r} has no defined input; build it with keras.Input "
            "before analysing it."
        ) from None
    weights = [np.asarray(w) for w in model.weights]
    by_type: dict[str, dict[str, int]] = {}
    macs = 0
    activations = sum(_elements(t.shape) * _bits(t.dtype) for t in inputs)
    for layer in _leaf_layers(model):
        layer_macs = layer_macs_of(layer)
        entry = by_type.setdefault(type(layer).__name__, {"params": 0, "macs": 0})
        entry["params"] += int(layer.count_params())
        entry["macs"] += layer_macs
        macs += layer_macs
        activations += sum(_elements(t.shape) * _bits(t.dtype) for t in _outputs(layer))
    return {
        "params": int(sum(w.size for w in weights)),
        "nonzero_params": int(sum(np.count_nonzero(w) for w in weights)),
        "sp_bits": int(sum(w.size * w.dtype.itemsize * 8 for w in weights)),
        "sf_bits": int(activations),
        "macs": int(macs),
        "by_layer_type": by_type,
    }


def layer_macs_of(layer: keras.layers.Layer) -> int:
    """MACs of one layer's first call for batch 1 (0 for layers without MACs)."""
    for cls in type(layer).__mro__:
        if cls in _LAYER_MACS:
            return int(_LAYER_MACS[cls](layer))
    return 0


def _leaf_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)  # its inputs are the outer graph's tensors
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def _outputs(layer: keras.layers.Layer) -> list[Any]:
    try:
        output = layer.output
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"Layer {layer.name!r} has never been called on a symbolic input, so its "
            f"output size is unknown; build the model with keras.Input. ({error})"
        ) from None
    return list(output) if isinstance(output, list | tuple) else [output]


def _elements(shape: tuple[int | None, ...]) -> int:
    """Elements of one sample: the batch axis (None) counts as 1."""
    return math.prod(1 if d is None else int(d) for d in shape)


def _bits(dtype: Any) -> int:
    return int(np.dtype(keras.backend.standardize_dtype(dtype)).itemsize * 8)


def _positions(layer: keras.layers.Layer, shape: tuple[int | None, ...]) -> int:
    """Spatial positions of a conv feature map (channels last or first)."""
    spatial = shape[2:] if getattr(layer, "data_format", None) == "channels_first" else shape[1:-1]
    return _elements(spatial)


def _conv_macs(layer: keras.layers.Layer) -> int:
    # Conv kernel (kh, kw, Cin/groups, Cout); depthwise kernel (kh, kw, Cin, multiplier).
    return _positions(layer, layer.output.shape) * math.prod(layer.kernel.shape)


def _separable_macs(layer: keras.layers.Layer) -> int:
    kernels = math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape)
    return _positions(layer, layer.output.shape) * kernels


def _transpose_macs(layer: keras.layers.Layer) -> int:
    # Each input position scatters one kernel: kh*kw*Cout*Cin MACs in all.
    return _positions(layer, layer.input.shape) * math.prod(layer.kernel.shape)


def _dense_macs(layer: keras.layers.Layer) -> int:
    return _elements(layer.output.shape[:-1]) * math.prod(layer.kernel.shape)


_LAYER_MACS: dict[type, Callable[[keras.layers.Layer], int]] = {
    keras.layers.Dense: _dense_macs,
    keras.layers.Conv1D: _conv_macs,
    keras.layers.Conv2D: _conv_macs,
    keras.layers.Conv3D: _conv_macs,
    keras.layers.DepthwiseConv1D: _conv_macs,
    keras.layers.DepthwiseConv2D: _conv_macs,
    keras.layers.SeparableConv1D: _separable_macs,
    keras.layers.SeparableConv2D: _separable_macs,
    keras.layers.Conv1DTranspose: _transpose_macs,
    keras.layers.Conv2DTranspose: _transpose_macs,
    keras.layers.Conv3DTranspose: _transpose_macs,
}

# ---------------------------------------------------------------- TFLite side

_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if k.isupper()}
_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}
# Storage width in bits of the types whose name does not end in it (BOOL takes
# one byte; STRING, RESOURCE and VARIANT hold no fixed-width data).
_WIDTHS = {"BOOL": 8, "STRING": 0, "RESOURCE": 0, "VARIANT": 0}


def analyze_tflite(tflite: bytes | str | Path) -> dict[str, Any]:
    """Static metrics of a ``.tflite`` file, read from its flatbuffer.

    Exact: file and gzip sizes, weight element counts, bit widths and
    ``weight_dtypes``, activation element counts, ``by_op_type``. A weight is a
    constant tensor (one whose buffer holds data) that is floating point or
    carries quantization parameters (so int32 biases of int8 models count and
    int32 shape operands do not). Quantization scales and zero points are not
    counted in ``sp_bits``. Activations are every other tensor, except the
    float32 copies that DEQUANTIZE makes of float16 weights when the model
    loads. ``nonzero_params`` compares stored values to the zero point; types
    that numpy cannot decode (int4, bfloat16) count as all non-zero. ``macs``
    covers FULLY_CONNECTED, CONV_2D, CONV_3D, DEPTHWISE_CONV_2D and
    TRANSPOSE_CONV (other ops count 0), once per subgraph, so loops run once.

    Args:
        tflite: the file's bytes or its path.

    Returns:
        ``file_size_bytes``, ``gzip_size_bytes`` (gzip level 9, in memory),
        ``params``, ``nonzero_params``, ``sp_bits``, ``sf_bits``,
        ``weight_dtypes`` (sorted names), ``macs`` and ``by_op_type``.

    Raises:
        ModelFileError: the file is missing or is not a TFLite flatbuffer.
    """
    data = read_tflite(tflite)
    model = _parse(data)
    params = nonzero = sp_bits = sf_bits = macs = 0
    dtypes: set[str] = set()
    ops: Counter[str] = Counter()
    for graph in model.subgraphs or []:
        decoded = _decoded_weights(model, data, graph)
        for index, tensor in enumerate(graph.tensors or []):
            name, elements = _TYPE_NAMES.get(tensor.type, str(tensor.type)), _tensor_size(tensor)
            values = _constant(model, data, tensor)
            if values is not None and _is_weight(name, tensor):
                params += elements
                nonzero += _nonzero(name, values, tensor, elements)
                sp_bits += elements * _width(name)
                dtypes.add(name.lower())
            elif values is None and index not in decoded:
                sf_bits += elements * _width(name)
        for op in graph.operators or []:
            op_name = _op_name(model, op)
            ops[op_name] += 1
            macs += _op_macs(op_name, graph, op)
    return {
        "file_size_bytes": len(data),
        "gzip_size_bytes": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "params": int(params),
        "nonzero_params": int(nonzero),
        "sp_bits": int(sp_bits),
        "sf_bits": int(sf_bits),
        "weight_dtypes": sorted(dtypes),
        "macs": int(macs),
        "by_op_type": dict(sorted(ops.items())),
    }


def read_tflite(tflite: bytes | str | Path) -> bytes:
    """The bytes of a ``.tflite`` given as bytes or as a path.

    Raises:
        ModelFileError: the path does not name a readable file.
    """
    if isinstance(tflite, bytes | bytearray | memoryview):
        return bytes(tflite)
    try:
        return Path(tflite).read_bytes()
    except OSError as error:
        raise ModelFileError(
            f"Cannot read the .tflite file: {error.strerror}. Received: tflite={str(tflite)!r}"
        ) from None


def _parse(data: bytes) -> Any:
    # Bytes 4..8 of every TFLite flatbuffer hold the file identifier "TFL3".
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise ModelFileError(
            "Not a TFLite model: the flatbuffer identifier 'TFL3' is missing. "
            f"Received: {len(data)} bytes starting {data[:8]!r}"
        )
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as error:  # a damaged flatbuffer fails anywhere in the parser
        raise ModelFileError(f"Corrupt TFLite flatbuffer: {error!r}") from None
    if not model.subgraphs or not model.subgraphs[0].operators:
        raise ModelFileError(
            f"Corrupt TFLite flatbuffer: it holds no graph. Received: {len(data)} bytes"
        )
    return model


def _tensor_size(tensor: Any) -> int:
    return math.prod(int(d) for d in (tensor.shape if tensor.shape is not None else []))


def _constant(model: Any, data: bytes, tensor: Any) -> np.ndarray | None:
    """The raw bytes of a constant tensor, or None for a tensor computed at run time."""
    # Buffer 0 is the empty sentinel that run-time tensors point to.
    has_buffer = tensor is not None and model.buffers and tensor.buffer
    buffer = model.buffers[tensor.buffer] if has_buffer else None
    if buffer is None:
        return None
    if buffer.data is not None and len(buffer.data):
        return np.asarray(buffer.data, dtype=np.uint8)
    if buffer.offset > 1:  # files over 2 GB keep buffers after the flatbuffer
        return np.frombuffer(data, np.uint8, count=buffer.size, offset=buffer.offset)
    return None


def _is_weight(type_name: str, tensor: Any) -> bool:
    quantized = tensor.quantization is not None and tensor.quantization.scale is not None
    return "FLOAT" in type_name or quantized


def _width(type_name: str) -> int:
    """Bits per element: INT8 8, FLOAT16 16, FLOAT8_E4M3FN 8, COMPLEX64 64, INT4 4."""
    if type_name in _WIDTHS:
        return _WIDTHS[type_name]
    digits = re.search(r"\d+", type_name)
    return int(digits.group()) if digits else 0


def _nonzero(type_name: str, raw: np.ndarray, tensor: Any, elements: int) -> int:
    try:
        values = raw.view(np.dtype(type_name.lower()))
    except (TypeError, ValueError):
        return elements  # no numpy type to decode it: counted as non-zero
    zero_points = None if tensor.quantization is None else tensor.quantization.zeroPoint
    if zero_points is None or not np.any(zero_points):
        return int(np.count_nonzero(values))
    shape = [1] * len(tensor.shape)
    if len(zero_points) > 1:  # per-channel zero points along the quantized axis
        shape[tensor.quantization.quantizedDimension] = len(zero_points)
    grid = values.reshape(tuple(int(d) for d in tensor.shape))
    return int(np.count_nonzero(grid != np.reshape(zero_points, shape)))


def _op_name(model: Any, op: Any) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    if code.customCode:
        return code.customCode.decode()
    # Codes above 127 live only in builtinCode; older files fill only the deprecated field.
    number = max(code.builtinCode, code.deprecatedBuiltinCode)
    return _OP_NAMES.get(number, str(number))


def _decoded_weights(model: Any, data: bytes, graph: Any) -> set[int]:
    """Outputs of DEQUANTIZE ops whose input is a constant: weights, not activations."""
    decoded = set()
    for op in graph.operators or []:
        source = graph.tensors[op.inputs[0]] if len(op.inputs) else None
        if _op_name(model, op) == "DEQUANTIZE" and _constant(model, data, source) is not None:
            decoded.update(int(i) for i in op.outputs)
    return decoded


def _op_macs(op_name: str, graph: Any, op: Any) -> int:
    rule = _OP_MACS.get(op_name)
    if rule is None:
        return 0
    shapes = [None if i < 0 else tuple(graph.tensors[i].shape) for i in op.inputs]
    return int(rule(shapes, tuple(graph.tensors[op.outputs[0]].shape)))


Shapes = list[tuple[int, ...] | None]
_OP_MACS: dict[str, Callable[[Shapes, tuple[int, ...]], int]] = {
    # Weights (m, n): n MACs per output element.
    "FULLY_CONNECTED": lambda ins, out: math.prod(out) * ins[1][-1],
    # Filter (Cout, kh, kw, Cin/groups): kh*kw*Cin/groups MACs per output element.
    "CONV_2D": lambda ins, out: math.prod(out) * math.prod(ins[1][1:]),
    # Filter (kd, kh, kw, Cin, Cout).
    "CONV_3D": lambda ins, out: math.prod(out) * math.prod(ins[1][:-1]),
    # Filter (1, kh, kw, Cin*multiplier): kh*kw MACs per output element.
    "DEPTHWISE_CONV_2D": lambda ins, out: math.prod(out) * math.prod(ins[1][1:3]),
    # Inputs (output_shape, filter (Cout, kh, kw, Cin), input): each input element
    # scatters kh*kw*Cout MACs.
    "TRANSPOSE_CONV": lambda ins, out: math.prod(ins[2]) * math.prod(ins[1][:3]),
}

# ---------------------------------------------------------------- Combined


def estimate_energy_mj(macs: float, sp_bits: float, sf_bits: float) -> float:
    """Energy per inference estimated with AdaDeep's model, in millijoules.

    Seed 004 eq. 4-5: E = e1*C + e2*Sp + e3*Sf with e2 = 6*e1 (cache access)
    and e3 = 200*e1 (DRAM access), e1 = 52.8 pJ per MAC; the paper applies
    e2 and e3 per bit of weights (Sp) and activations (Sf). This is an
    estimate, not a measurement: the paper claims only that it ranks
    networks as measurements do.

    Args:
        macs: multiply-accumulates per inference (C).
        sp_bits: weight storage in bits (Sp).
        sf_bits: activation storage in bits (Sf).

    Returns:
        Estimated energy in millijoules.
    """
    picojoules = E1_PJ * (macs + CACHE_PER_MAC * sp_bits + DRAM_PER_MAC * sf_bits)
    return picojoules / PJ_PER_MJ


def static_metrics(model: keras.Model | None, tflite_bytes: bytes) -> dict[str, Any]:
    """The static metrics stored on an Artifact.

    Params, non-zero params, MACs and ``by_layer_type`` come from the Keras
    model (exact counts of the network's structure); sizes, ``sp_bits``,
    ``sf_bits``, ``weight_dtypes`` and ``by_op_type`` come from the ``.tflite``
    file (the widths it really stores); ``energy_mj`` is eq. 5 on those. A
    model that arrived as a ``.tflite`` or ``.pt2`` has no Keras model: its
    params, non-zero params and MACs are then read from the file too
    (``structure_source`` says which).

    Args:
        model: the compressed Keras model, or None for a ``.tflite``-only model.
        tflite_bytes: its exported ``.tflite``.

    Returns:
        A JSON-serialisable dict.
    """
    file_metrics = analyze_tflite(tflite_bytes)
    structure = file_metrics if model is None else analyze_keras(model)
    metrics = {key: structure[key] for key in ("params", "nonzero_params", "macs")}
    for key in ("file_size_bytes", "gzip_size_bytes", "sp_bits", "sf_bits", "weight_dtypes"):
        metrics[key] = file_metrics[key]
    if model is not None:
        metrics["by_layer_type"] = structure["by_layer_type"]
    metrics["structure_source"] = "the .tflite flatbuffer" if model is None else "the Keras model"
    metrics["by_op_type"] = file_metrics["by_op_type"]
    metrics["energy_mj"] = estimate_energy_mj(
        metrics["macs"], metrics["sp_bits"], metrics["sf_bits"]
    )
    metrics["energy_source"] = "estimated: AdaDeep eq. 5 (seed 004), e1 = 52.8 pJ"
    return metrics
