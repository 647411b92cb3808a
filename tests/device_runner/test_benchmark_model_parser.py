"""The benchmark_model parser reads every figure of real transcripts of each output variant.

The transcripts live in tests/device_runner/replay_adb/transcripts/, each with a header
naming where its format comes from; every expected value below is copied from those files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runner.drivers.benchmark_model_output import (
    Delegation,
    NodeTypeRow,
    OpRow,
    RunStats,
    parse_output,
    parse_stats,
    strip_prefix,
)
from tests.device_runner.replay_adb.fake_adb_replay import read_transcript

TRANSCRIPTS = Path(__file__).parent / "replay_adb" / "transcripts"


def load(name: str):
    return parse_output(read_transcript(TRANSCRIPTS / name)[1])


def op(node_type, start, first, avg, pct, cdf, mem, called, name) -> OpRow:
    return OpRow(node_type, start, first, avg, pct, cdf, mem, called, name)


def test_it_strips_info_verbose_and_indent_prefixes() -> None:
    assert strip_prefix("INFO: count=1 curr=5") == "count=1 curr=5"
    assert strip_prefix("    VERBOSE: Replacing 1 out of 1") == "Replacing 1 out of 1"
    assert strip_prefix("\tWARNING: x  ") == "x"
    assert strip_prefix("#threads used for CPU inference: [4]").startswith("#threads")


def test_it_reads_scientific_notation_in_stats_lines() -> None:
    stats = parse_stats(
        "count=10 first=2653894 curr=2709263 min=2640862 max=3025403 "
        "avg=2.71985e+06 std=105101 p5=2640862 median=2709263 p95=3025403"
    )
    assert stats == RunStats(
        10, 2653894, 2709263, 2640862, 3025403, 2719850.0, 105101, 2640862, 2709263, 3025403
    )


def test_it_reads_the_start_column_transcript() -> None:
    out = load("tflite_riscv_start_column.txt")
    assert out.warmup == RunStats(1, None, 3512391, None, None, None, None, None, None, None)
    assert out.runs == RunStats(
        50, 2990275, 2913402, 2727568, 3189954, 2950340.0, 109798, None, None, None
    )
    assert (out.init_us, out.first_inference_us) == (17187, 3512391)
    assert (out.warmup_avg_us, out.inference_avg_us) == (3512390.0, 2950340.0)
    assert (out.memory_kind, out.memory_init_mb, out.memory_overall_mb) == (
        "delta",
        4.21094,
        46.0859,
    )
    assert out.delegations == [] and out.errors == []
    init, regular = out.profiles
    assert init.title == "Benchmark Initialization" and init.nodes_executed == 1
    alloc = op("AllocateTensors", 0.0, 1.356, 1.356, 100.0, 100.0, 0.0, 1, "AllocateTensors/0")
    assert init.run_order == [alloc] and init.top_by_time == [alloc]
    assert init.by_node_type == [NodeTypeRow("AllocateTensors", 1, 1.356, 100.0, 100.0, 0.0, 1)]
    assert regular.title == "Regular Benchmark Runs" and regular.nodes_executed == 31
    assert out.regular_profile is regular
    m = "[MobilenetV1/MobilenetV1/"
    assert regular.run_order == [
        op("CONV_2D", 0.066, 87.754, 60.957, 2.066, 2.066, 0.0, 1, m + "Conv2d_0/Relu6]:0"),
        op(
            "DEPTHWISE_CONV_2D",
            61.033,
            53.628,
            49.870,
            1.691,
            3.757,
            0.0,
            1,
            m + "Conv2d_1_depthwise/Relu6]:1",
        ),
        op(
            "CONV_2D",
            110.912,
            134.346,
            147.808,
            5.011,
            8.768,
            0.0,
            1,
            m + "Conv2d_1_pointwise/Relu6]:2",
        ),
        op(
            "DEPTHWISE_CONV_2D",
            258.730,
            27.363,
            34.010,
            1.153,
            9.921,
            0.0,
            1,
            m + "Conv2d_2_depthwise/Relu6]:3",
        ),
        op(
            "CONV_2D",
            292.750,
            125.424,
            135.911,
            4.607,
            14.528,
            0.0,
            1,
            m + "Conv2d_2_pointwise/Relu6]:4",
        ),
        op(
            "AVERAGE_POOL_2D",
            2936.930,
            0.828,
            0.869,
            0.029,
            99.578,
            0.0,
            1,
            "[MobilenetV1/Logits/AvgPool_1a/AvgPool]:27",
        ),
        op(
            "CONV_2D",
            2937.801,
            11.354,
            12.185,
            0.413,
            99.992,
            0.0,
            1,
            "[MobilenetV1/Logits/Conv2d_1c_1x1/BiasAdd]:28",
        ),
        op(
            "SQUEEZE",
            2949.993,
            0.013,
            0.017,
            0.001,
            99.992,
            0.0,
            1,
            "[MobilenetV1/Logits/SpatialSqueeze]:29",
        ),
        op(
            "SOFTMAX",
            2950.011,
            0.230,
            0.233,
            0.008,
            100.0,
            0.0,
            1,
            "[MobilenetV1/Predictions/Reshape_1]:30",
        ),
    ]
    assert regular.top_by_time == [
        op(
            "CONV_2D",
            898.426,
            263.724,
            277.374,
            9.403,
            9.403,
            0.0,
            1,
            m + "Conv2d_5_pointwise/Relu6]:10",
        ),
        op(
            "CONV_2D",
            1588.434,
            230.877,
            249.023,
            8.442,
            17.845,
            0.0,
            1,
            m + "Conv2d_8_pointwise/Relu6]:16",
        ),
        op(
            "CONV_2D",
            2120.467,
            224.358,
            248.456,
            8.423,
            26.267,
            0.0,
            1,
            m + "Conv2d_10_pointwise/Relu6]:20",
        ),
        op(
            "CONV_2D",
            1860.007,
            276.404,
            243.619,
            8.259,
            34.526,
            0.0,
            1,
            m + "Conv2d_9_pointwise/Relu6]:18",
        ),
        op(
            "CONV_2D",
            2390.360,
            239.657,
            242.949,
            8.236,
            42.761,
            0.0,
            1,
            m + "Conv2d_11_pointwise/Relu6]:22",
        ),
    ]
    assert regular.by_node_type == [
        NodeTypeRow("CONV_2D", 15, 2651.853, 89.897, 89.897, 0.0, 15),
        NodeTypeRow("DEPTHWISE_CONV_2D", 13, 296.919, 10.065, 99.962, 0.0, 13),
        NodeTypeRow("AVERAGE_POOL_2D", 1, 0.869, 0.029, 99.992, 0.0, 1),
        NodeTypeRow("SOFTMAX", 1, 0.232, 0.008, 99.999, 0.0, 1),
        NodeTypeRow("SQUEEZE", 1, 0.016, 0.001, 100.0, 0.0, 1),
    ]


def test_it_reads_the_info_prefixed_transcript_without_start_column() -> None:
    out = load("tc2_xnnpack_no_start_column.txt")
    assert out.warmup == RunStats(67, 8781, 7197, 6335, 9775, 7514.93, 419, None, None, None)
    assert out.runs == RunStats(67, 7176, 7505, 6373, 7775, 7454.97, 256, None, None, None)
    assert (out.init_us, out.first_inference_us) == (16772, 8781)
    assert (out.warmup_avg_us, out.inference_avg_us) == (7514.93, 7454.97)
    assert (out.memory_kind, out.memory_init_mb, out.memory_overall_mb) == (
        "delta",
        8.44922,
        10.8789,
    )
    init, regular = out.profiles
    assert init.nodes_executed == 2
    modify = op(
        "ModifyGraphWithDelegate",
        None,
        14.842,
        14.842,
        99.317,
        99.317,
        3428.0,
        1,
        "ModifyGraphWithDelegate/0",
    )
    alloc = op("AllocateTensors", None, 0.102, 0.102, 0.683, 100.0, 0.0, 1, "AllocateTensors/0")
    assert init.run_order == [modify, alloc] and init.top_by_time == [modify, alloc]
    assert init.by_node_type == [
        NodeTypeRow("ModifyGraphWithDelegate", 1, 14.842, 99.317, 99.317, 3428.0, 1),
        NodeTypeRow("AllocateTensors", 1, 0.102, 0.683, 100.0, 0.0, 1),
    ]
    assert regular.nodes_executed == 115 and out.regular_profile is regular
    gemm, dw, igemm = (f"Convolution (NHWC, QU8) {k}" for k in ("GEMM", "DWConv", "IGEMM"))
    post = "TFLite_Detection_PostProcess"
    post_name = f"[{post}, {post}:1, {post}:2, {post}:3]:114"
    assert regular.run_order == [
        op(igemm, None, 0.267, 0.278, 3.783, 3.783, 0.0, 1, f"Delegate/{igemm}:0"),
        op(dw, None, 0.243, 0.271, 3.681, 7.464, 0.0, 1, f"Delegate/{dw}:1"),
        op(gemm, None, 0.089, 0.097, 1.314, 8.778, 0.0, 1, f"Delegate/{gemm}:2"),
        op(gemm, None, 0.324, 0.338, 4.598, 13.375, 0.0, 1, f"Delegate/{gemm}:3"),
        op("Copy (NC, X8)", None, 0.0, 0.0, 0.0, 81.803, 0.0, 1, "Delegate/Copy (NC, X8):0"),
        op(
            "Sigmoid (NC, QU8)", None, 0.0, 0.0, 0.0, 81.803, 0.0, 1, "Delegate/Sigmoid (NC, QU8):1"
        ),
        op(post, None, 1.342, 1.339, 18.197, 100.0, 0.0, 1, post_name),
    ]
    assert regular.top_by_time == [
        op(post, None, 1.342, 1.339, 18.197, 18.197, 0.0, 1, post_name),
        op(gemm, None, 0.324, 0.338, 4.598, 22.795, 0.0, 1, f"Delegate/{gemm}:3"),
        op(dw, None, 0.300, 0.302, 4.099, 26.894, 0.0, 1, f"Delegate/{dw}:7"),
        op(igemm, None, 0.267, 0.278, 3.783, 30.678, 0.0, 1, f"Delegate/{igemm}:0"),
    ]
    assert regular.by_node_type == [
        NodeTypeRow(gemm, 54, 3.340, 45.622, 45.622, 0.0, 54),
        NodeTypeRow(dw, 33, 2.240, 30.597, 76.219, 0.0, 33),
        NodeTypeRow(post, 1, 1.339, 18.290, 94.509, 0.0, 1),
        NodeTypeRow(igemm, 1, 0.278, 3.797, 98.306, 0.0, 1),
        NodeTypeRow("Add (ND, QU8)", 10, 0.119, 1.625, 99.932, 0.0, 10),
        NodeTypeRow("CONCATENATION", 2, 0.005, 0.068, 100.0, 0.0, 2),
        NodeTypeRow("Sigmoid (NC, QU8)", 1, 0.0, 0.0, 100.0, 0.0, 1),
        NodeTypeRow("Copy (NC, X8)", 13, 0.0, 0.0, 100.0, 0.0, 13),
    ]


def test_it_reads_percentiles_of_newer_builds() -> None:
    out = load("gpu_percentiles.txt")
    assert out.warmup == RunStats(
        5, 125113, 112537, 111758, 125113, 115344, 4959, 111758, 112912, 125113
    )
    assert out.runs == RunStats(
        50, 119614, 115889, 111842, 119614, 115246, 1329, 112107, 115350, 116620
    )
    assert (out.init_us, out.first_inference_us) == (1361236, 125113)
    assert (out.warmup_avg_us, out.inference_avg_us) == (115344, 115246)
    assert (out.memory_kind, out.memory_init_mb, out.memory_overall_mb) == (
        "delta",
        132.816,
        132.816,
    )
    assert out.profiles == [] and out.delegations == [] and out.errors == []


def test_it_reads_the_delegate_line() -> None:
    out = load("nnapi_delegate_replacing.txt")
    assert out.delegations == [Delegation(31, 31, "TfLiteNnapiDelegate")]
    assert out.warmup == RunStats(1, None, 637079, None, None, None, None, None, None, None)
    assert out.runs == RunStats(520, 2531, 2793, 1171, 9925, 1885.74, 870, None, None, None)
    assert (out.init_us, out.first_inference_us) == (66002, 637079)
    assert (out.warmup_avg_us, out.inference_avg_us) == (637079, 1885.74)
    assert (out.memory_kind, out.memory_init_mb, out.memory_overall_mb) == (
        "delta",
        7.40234,
        7.83203,
    )
    assert out.errors == []


def test_it_reads_the_delegate_line_without_a_total() -> None:
    out = parse_output(
        "INFO: Replacing 31 node(s) with delegate (TfLiteNnapiDelegate) node, "
        "yielding 1 partitions."
    )
    assert out.delegations == [Delegation(31, None, "TfLiteNnapiDelegate")]


def test_it_reads_the_older_peak_memory_line() -> None:
    out = load("tf24_peak_memory.txt")
    assert out.warmup is None
    assert out.runs == RunStats(50, 249042, 250889, 247067, 254474, 249684, 1442, None, None, None)
    assert (out.init_us, out.first_inference_us) == (16242, 360262)
    assert (out.warmup_avg_us, out.inference_avg_us) == (304586, 249684)
    assert (out.memory_kind, out.memory_init_mb, out.memory_overall_mb) == (
        "peak",
        4.92969,
        138.809,
    )


def test_it_collects_error_lines_of_a_crash() -> None:
    out = load("crash_allocate_tensors.txt")
    assert out.errors == ["Failed to allocate tensors!", "Benchmarking failed."]
    assert out.runs is None and out.init_us is None and out.memory_kind is None


@pytest.mark.parametrize("text", ["", "garbage\nno figures here", "count=oops"])
def test_it_leaves_figures_missing_when_absent(text: str) -> None:
    out = parse_output(text)
    assert out.runs is None and out.inference_avg_us is None and out.profiles == []
