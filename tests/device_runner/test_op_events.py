"""Profiler events are charged to the .tflite operators they came from."""

from __future__ import annotations

import pytest

from device_runner.drivers.litert_c import OperatorEvent
from device_runner.drivers.op_events import align, per_operator_ms


def xnn(tag: str, us: int = 10) -> OperatorEvent:
    return OperatorEvent(tag, 8, 0, us)


def builtin(tag: str, node: int, us: int = 10) -> OperatorEvent:
    return OperatorEvent(tag, 2, node, us)


def test_it_leaves_a_pad_fused_into_its_convolution_without_time() -> None:
    ops = ["PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED"]
    events = [
        xnn("Convolution (NHWC, F32) IGEMM"),
        xnn("Convolution (NHWC, F32) DWConv"),
        xnn("Add (ND, F32)"),
        xnn("Mean (ND) Mean"),
        xnn("Fully Connected (NC, F32) GEMM"),
    ]
    assert align(events, ops) == [1, 2, 3, 4, 5]
    ms, without_event = per_operator_ms([events, events], ops)
    assert without_event == [0] and ms[0] == 0.0
    assert ms[1:] == pytest.approx([0.01] * 5)


def test_it_tells_a_depthwise_kernel_from_a_pointwise_one() -> None:
    ops = ["DEPTHWISE_CONV_2D", "CONV_2D"]
    events = [xnn("Convolution (NHWC, F32) DWConv"), xnn("Convolution (NHWC, F32) GEMM")]
    assert align(events, ops) == [0, 1]


def test_it_anchors_builtin_kernel_events_on_their_own_node() -> None:
    ops = ["CONV_2D", "SOFTMAX", "SOFTMAX"]
    events = [xnn("Convolution (NHWC, F32) IGEMM"), builtin("SOFTMAX", 2)]
    # By type alone the event could go to either softmax; its node index says which.
    assert align(events, ops) == [0, 2]


def test_it_charges_an_inserted_helper_to_its_neighbour() -> None:
    ops = ["CONV_2D", "FULLY_CONNECTED"]
    events = [
        xnn("Convolution (NHWC, F32) IGEMM", 20),
        xnn("Clamp (NC, F32)", 3),  # an activation XNNPACK runs apart: to the op before
        xnn("Copy (NC, X32)", 5),  # a reshape it inserted: to the op after
        xnn("Fully Connected (NC, F32) GEMM", 7),
    ]
    assert align(events, ops) == [0, 0, 1, 1]
    ms, without_event = per_operator_ms([events], ops)
    assert ms == pytest.approx([0.023, 0.012]) and without_event == []


def test_it_averages_whole_microseconds_over_runs() -> None:
    ops = ["ADD"]
    runs = [[xnn("Add (ND, F32)", us)] for us in (0, 1, 1, 0)]
    ms, _ = per_operator_ms(runs, ops)
    assert ms == [pytest.approx(0.0005)]


def test_it_refuses_runs_that_executed_different_graphs() -> None:
    ops = ["ADD", "MUL"]
    first = [xnn("Add (ND, F32)"), xnn("Multiply (ND, F32)")]
    with pytest.raises(ValueError, match="different operator sequences"):
        per_operator_ms([first, first[:1]], ops)


def test_it_refuses_an_anchor_the_model_does_not_have() -> None:
    with pytest.raises(ValueError, match="cannot be aligned.*events=1, operators=1"):
        align([builtin("SOFTMAX", 5)], ["SOFTMAX"])


def test_it_refuses_no_runs() -> None:
    with pytest.raises(ValueError, match="Received: runs=0"):
        per_operator_ms([], ["ADD"])
