"""Profiler events back onto the .tflite's operators: an order-preserving alignment.

XNNPACK reports its own operators, not the .tflite's: it fuses a PAD into the
convolution after it, elides reshapes, and may insert a copy or a conversion
of its own. Both sequences follow the execution order, so each event is
aligned to an operator by dynamic programming (an edit distance whose match
cost says whether an XNNPACK operator can come from that builtin). Events of
builtin kernels carry their exact node index and are hard anchors. An event
left unmatched (a helper XNNPACK inserted) is charged to a neighbour: an
activation to the operator before it, anything else to the one after it.
An operator no event matched was fused or elided and costs nothing of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from device_runner.drivers.litert_c import OPERATOR_EVENT, OperatorEvent

_ACTIVATIONS = {"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"}
_UNARY = {
    "Abs": {"ABS"},
    "Bankers Rounding": {"ROUND"},
    "Ceiling": {"CEIL"},
    "Cosine": {"COS"},
    "ELU": {"ELU"},
    "Exp": {"EXP"},
    "Floor": {"FLOOR"},
    "GELU": {"GELU"},
    "ApproxGELU": {"GELU"},
    "HardSwish": {"HARD_SWISH"},
    "LeakyReLU": {"LEAKY_RELU"},
    "Log": {"LOG"},
    "Negate": {"NEG"},
    "Reciprocal Square Root": {"RSQRT"},
    "Sigmoid": {"LOGISTIC"},
    "Sign": {"SIGN"},
    "Sine": {"SIN"},
    "Square": {"SQUARE"},
    "Square Root": {"SQRT"},
    "TanH": {"TANH"},
}
_BINARY = {
    "Add": {"ADD"},
    "ATan2": {"ATAN2"},
    "Divide": {"DIV"},
    "Maximum": {"MAXIMUM"} | _ACTIVATIONS,
    "Minimum": {"MINIMUM", "RELU6"},
    "Modulus": {"FLOOR_MOD"},
    "Multiply": {"MUL"},
    "Power": {"POW"},
    "PReLU": {"PRELU"},
    "Squared Difference": {"SQUARED_DIFFERENCE"},
    "Subtract": {"SUB"},
}
# XNNPACK operator name (the tag before " (") -> the builtins it can come from.
SOURCES: dict[str, set[str]] = {
    "Convolution": {"CONV_2D", "DEPTHWISE_CONV_2D"},
    "Deconvolution": {"TRANSPOSE_CONV"},
    "Fully Connected": {"FULLY_CONNECTED", "CONV_2D", "BATCH_MATMUL"},
    "Dynamic Fully Connected": {"FULLY_CONNECTED", "BATCH_MATMUL"},
    "Batch Matrix Multiply": {"BATCH_MATMUL", "FULLY_CONNECTED"},
    "Max Pooling": {"MAX_POOL_2D"},
    "ArgMax Pooling": {"MAX_POOL_2D"},
    "Average Pooling": {"AVERAGE_POOL_2D", "MEAN"},
    "Mean": {"MEAN", "AVERAGE_POOL_2D"},
    "Mean Squared": {"MEAN"},
    "Sum": {"SUM"},
    "Reduce Max": {"REDUCE_MAX"},
    "Reduce Min": {"REDUCE_MIN"},
    "Softmax": {"SOFTMAX"},
    "Constant Pad": {"PAD", "PADV2", "MIRROR_PAD"},
    "Static Reshape": {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"},
    "Static Expand Dims": {"EXPAND_DIMS", "RESHAPE"},
    "Fuse Dims": {"RESHAPE"},
    "Split Dims": {"RESHAPE"},
    "Copy": {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "SPLIT"},
    "Transpose": {"TRANSPOSE"},
    "Convert": {"QUANTIZE", "DEQUANTIZE"},
    "Slice": {"SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V"},
    "Resize Bilinear": {"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"},
    "Depth To Space": {"DEPTH_TO_SPACE"},
    "Space To Depth": {"SPACE_TO_DEPTH"},
    "Clamp": _ACTIVATIONS | {"MINIMUM", "MAXIMUM"},
    **_UNARY,
    **_BINARY,
}
# Operators XNNPACK may insert with no builtin of their own: cheap to leave unmatched.
HELPERS = {"Static Reshape", "Static Expand Dims", "Fuse Dims", "Split Dims", "Copy", "Convert"}
HELPERS |= {"Transpose", "Clamp"}
# Builtins XNNPACK may fuse into a neighbour or elide: cheap to leave without an event.
FUSABLE = {"PAD", "PADV2", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "QUANTIZE", "DEQUANTIZE"}
FUSABLE |= _ACTIVATIONS
_UNKNOWN_NAME_COST = 1.5  # an XNNPACK name missing above still matches, weakly
_WRONG_TYPE_COST = 3.0
_DEPTHWISE_MISMATCH_COST = 0.4
_CHEAP_SKIP, _SKIP = 0.3, 1.0


def base_name(tag: str) -> str:
    """``Convolution (NHWC, F32) IGEMM`` -> ``Convolution``."""
    return tag.split(" (")[0].strip()


def _match_cost(event: OperatorEvent, index: int, op_type: str) -> float:
    if event.event_type == OPERATOR_EVENT:
        return 0.0 if event.node == index else math.inf
    name = base_name(event.tag)
    sources = SOURCES.get(name)
    if sources is None:
        return _UNKNOWN_NAME_COST
    if op_type not in sources:
        return _WRONG_TYPE_COST
    if name == "Convolution":  # XNNPACK names its depthwise kernels DWConv
        depthwise = "DWConv" in event.tag
        return 0.0 if depthwise == (op_type == "DEPTHWISE_CONV_2D") else _DEPTHWISE_MISMATCH_COST
    return 0.0


def _skip_event_cost(event: OperatorEvent) -> float:
    if event.event_type == OPERATOR_EVENT:
        return math.inf  # an exact anchor is never dropped
    return _CHEAP_SKIP if base_name(event.tag) in HELPERS else _SKIP


def _skip_op_cost(op_type: str) -> float:
    return _CHEAP_SKIP if op_type in FUSABLE else _SKIP


def _cost_table(events: Sequence[OperatorEvent], op_types: Sequence[str]) -> list[list[Any]]:
    """Back-pointers of the cheapest alignment of every prefix pair (M, E or O)."""
    n_events, n_ops = len(events), len(op_types)
    cost = [[math.inf] * (n_ops + 1) for _ in range(n_events + 1)]
    back: list[list[Any]] = [[None] * (n_ops + 1) for _ in range(n_events + 1)]
    cost[0][0] = 0.0
    for i in range(n_events + 1):
        for j in range(n_ops + 1):
            here = cost[i][j]
            if here == math.inf:
                continue
            moves = []
            if i < n_events and j < n_ops:
                moves.append((i + 1, j + 1, "M", _match_cost(events[i], j, op_types[j])))
            if i < n_events:
                moves.append((i + 1, j, "E", _skip_event_cost(events[i])))
            if j < n_ops:
                moves.append((i, j + 1, "O", _skip_op_cost(op_types[j])))
            for ni, nj, move, step in moves:
                if here + step < cost[ni][nj]:
                    cost[ni][nj], back[ni][nj] = here + step, move
    if cost[n_events][n_ops] == math.inf:
        raise ValueError(
            "The profiler's events cannot be aligned to the model's operators (an exact "
            f"node index is out of order). Received: events={n_events}, operators={n_ops}"
        )
    return back


def align(events: Sequence[OperatorEvent], op_types: Sequence[str]) -> list[int]:
    """The .tflite operator index each event's time belongs to.

    Args:
        events: one run's operator events, in execution order.
        op_types: the builtin names of subgraph 0's operators, in order.

    Raises:
        ValueError: the events cannot be aligned, or some event has no operator to go to.
    """
    back = _cost_table(events, op_types)
    matched: list[int | None] = [None] * len(events)
    i, j = len(events), len(op_types)
    while i > 0 or j > 0:
        move = back[i][j]
        if move == "M":
            matched[i - 1] = j - 1
        i, j = (i - 1, j - 1) if move == "M" else (i - 1, j) if move == "E" else (i, j - 1)
    return _charge_helpers(events, matched)


def _charge_helpers(events: Sequence[OperatorEvent], matched: list[int | None]) -> list[int]:
    """Unmatched events to a neighbour: an activation to the operator before, others after."""
    anchors = [k for k, index in enumerate(matched) if index is not None]
    if not anchors:
        raise ValueError(f"No profiler event matched an operator. Received: events={len(events)}")
    owners = []
    for k, index in enumerate(matched):
        if index is not None:
            owners.append(index)
            continue
        before = [m for m in anchors if m < k]
        after = [m for m in anchors if m > k]
        wants_before = base_name(events[k].tag) == "Clamp"
        chosen = before[-1] if before and (wants_before or not after) else after[0]
        owners.append(matched[chosen])  # type: ignore[arg-type]
    return owners


def per_operator_ms(
    runs: Sequence[Sequence[OperatorEvent]], op_types: Sequence[str]
) -> tuple[list[float], list[int]]:
    """Mean milliseconds per operator over profiled runs, and the operators with no event.

    Args:
        runs: the operator events of each profiled run; every run must report
            the same sequence (the same graph ran).
        op_types: the builtin names of subgraph 0's operators, in order.

    Raises:
        ValueError: no runs, runs that disagree, or events that cannot be aligned.
    """
    if not runs:
        raise ValueError("per_operator_ms needs at least one profiled run. Received: runs=0")
    signature = [(e.tag, e.event_type, e.node) for e in runs[0]]
    if any([(e.tag, e.event_type, e.node) for e in run] != signature for run in runs):
        raise ValueError("The profiled runs executed different operator sequences")
    owners = align(runs[0], op_types)
    ms = [0.0] * len(op_types)
    for position, owner in enumerate(owners):
        # Whole microseconds per run; their mean over runs resolves below one.
        ms[owner] += sum(run[position].elapsed_us for run in runs) / len(runs) / 1000.0
    without_event = sorted(set(range(len(op_types))) - set(owners))
    return ms, without_event
