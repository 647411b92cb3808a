"""The single-op breakdown: each operator carved out of the ``.tflite`` and timed alone.

The fallback when the in-graph profiler (``in_graph``) cannot run: each
operator becomes a model of its own, fed the values its inputs had in a
reference run of the whole model, and is timed with the protocol. The sum
of isolated operators differs from the whole model's latency (no inter-op
cache reuse, one invoke overhead per operator), and the method says so.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from device_runner.drivers.in_graph import operator_types
from device_runner.drivers.invoke import make_infer
from measurements.protocol import ProtocolConfig, run_protocol

METHOD = "measured: each operator carved into a single-op .tflite and timed alone (no cache reuse)"


def _has_data(model: Any, tensor: Any) -> bool:
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0


def single_op_model(
    model: Any, index: int, computed_at_load: Mapping[int, np.ndarray] | None = None
) -> tuple[bytes, list[int]]:
    """Carve operator ``index`` of subgraph 0 into a model of its own.

    Args:
        model: the whole model (flatbuffer object API).
        index: the operator's position in subgraph 0.
        computed_at_load: values of tensors that operators of constants only
            produce (a float16 model's dequantized weights), by tensor index:
            they become constants of the carved model, as the whole model's
            runtime treats them (XNNPACK packs them as weights).

    Returns:
        The single-op flatbuffer and, in input order, the original tensor
        indices its run-time inputs come from.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    computed_at_load = computed_at_load or {}
    graph = model.subgraphs[0]
    op = copy.copy(graph.operators[index])
    used = list(dict.fromkeys(t for t in [*op.inputs, *op.outputs, *(op.intermediates or [])]))
    used = [t for t in used if t >= 0]
    remap = {t: k for k, t in enumerate(used)}
    buffers, tensors, sources = [schema.BufferT()], [], []
    for t in used:
        tensor = copy.copy(graph.tensors[t])
        if _has_data(model, tensor):  # a constant (weights): keep its buffer
            buffers.append(model.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
        elif t in computed_at_load and t in op.inputs:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(computed_at_load[t].tobytes(), dtype=np.uint8)
            buffers.append(buffer)
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
            if t in op.inputs and not tensor.isVariable:
                sources.append(t)
        tensors.append(tensor)
    code = model.operatorCodes[op.opcodeIndex]
    op.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
    op.outputs = [remap[t] for t in op.outputs]
    op.intermediates = [remap[t] for t in op.intermediates] if op.intermediates else None
    op.opcodeIndex = 0
    sub = schema.SubGraphT()
    sub.tensors, sub.operators, sub.name = tensors, [op], b"single_op"
    sub.inputs, sub.outputs = [remap[t] for t in sources], list(op.outputs)
    carved = schema.ModelT()
    carved.version, carved.operatorCodes, carved.subgraphs = model.version, [code], [sub]
    carved.buffers, carved.description = buffers, b"single operator"
    return bytes(flatbuffer_utils.convert_object_to_bytearray(carved)), sources


def reference_values(model_path: str, inputs: list[np.ndarray]) -> Any:
    """Run the whole model once without delegates, keeping every intermediate tensor."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    ref = Interpreter(
        model_path=model_path,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    ref.allocate_tensors()
    make_infer(ref, inputs)()
    return ref


def single_op_times(
    model_path: str, threads: int, config: ProtocolConfig, inputs: list[np.ndarray]
) -> list[dict[str, Any]]:
    """Time every operator of subgraph 0 alone, with the protocol.

    Args:
        model_path: the ``.tflite``.
        threads: interpreter threads.
        config: the protocol; its time cap is shared between the operators.
        inputs: the whole model's inputs, for the reference run that feeds each operator.

    Returns:
        One entry per operator: ``index``, ``type``, ``mean_ms``, ``stable``, and
        ``at_load`` for an operator of constants that no inference runs.

    Raises:
        ValueError: the model has more than one subgraph (control flow).
    """
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.tools import flatbuffer_utils

    types = operator_types(model_path)  # refuses several subgraphs
    model = flatbuffer_utils.read_model(model_path)
    ref = reference_values(model_path, inputs)
    operators = model.subgraphs[0].operators
    # Share the time cap between operators so the breakdown stays bounded.
    per_op = config.replace(max_seconds=max(0.5, config.max_seconds / len(operators)))
    ops = []
    computed_at_load: dict[int, np.ndarray] = {}
    for index, (op, kind) in enumerate(zip(operators, types, strict=True)):
        content, sources = single_op_model(model, index, computed_at_load)
        if not sources:
            # Only constants in (a float16 model's DEQUANTIZE of its weights): LiteRT
            # computes it once when the interpreter is prepared and XNNPACK packs it
            # into its consumer's weights, so no inference runs it (alone, with no
            # input, XNNPACK refuses to set it up). Its consumers are carved with its
            # values as constants.
            computed_at_load.update({t: ref.get_tensor(t) for t in op.outputs})
            ops.append(
                {"index": index, "type": kind, "mean_ms": 0.0, "stable": True, "at_load": True}
            )
            continue
        interp = Interpreter(model_content=content, num_threads=threads)
        interp.allocate_tensors()
        feed = [ref.get_tensor(t) for t in sources]
        lat = run_protocol(make_infer(interp, feed), per_op)["latency"]
        ops.append(
            {"index": index, "type": kind, "mean_ms": lat["mean_ms"], "stable": lat["stable"]}
        )
    return ops
