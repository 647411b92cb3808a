"""The local driver times each operator inside whole runs with LiteRT's profiler."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from device_runner.drivers import breakdown, in_graph, litert_c
from device_runner.drivers.invoke import random_inputs
from measurements.protocol import ProtocolConfig

QUICK = ProtocolConfig(warmup_runs=2, min_runs=10, max_runs=50, max_seconds=1.0, idle_seconds=0)
COMPUTE = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "FULLY_CONNECTED"}


def residual_net(strided_tail: bool = True):
    """Conv + BN + ReLU6, a depthwise conv, a residual add, a dense head.

    With ``strided_tail``, a ZeroPadding2D before a strided depthwise conv: a PAD
    that XNNPACK fuses into the convolution after it.
    """
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Add()([x, y])
    if strided_tail:
        x = keras.layers.ZeroPadding2D(1)(x)
        x = keras.layers.DepthwiseConv2D(3, strides=2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4)(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def residual_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from compression.export import to_tflite

    path = tmp_path_factory.mktemp("in-graph") / "residual.tflite"
    path.write_bytes(to_tflite(residual_net(), "float32"))
    return path


def test_it_times_every_compute_operator_inside_whole_runs(residual_tflite: Path) -> None:
    ops, runs = in_graph.in_graph_times(str(residual_tflite), 1, QUICK, seed=0)

    types = in_graph.operator_types(str(residual_tflite))
    assert [o["type"] for o in ops] == types and [o["index"] for o in ops] == list(range(len(ops)))
    assert QUICK.min_runs <= runs <= QUICK.max_runs
    compute = [o for o in ops if o["type"] in COMPUTE]
    # Each got an event of its own; a sub-microsecond one (the 8 -> 4 dense head)
    # may read 0 us in every run, so only the convolutions must show time.
    assert len(compute) == 5 and not any(o.get("no_event") for o in compute)
    assert all(o["mean_ms"] > 0 for o in compute if o["type"].endswith("CONV_2D"))
    # Whatever got no event of its own (a PAD fused into its convolution) costs nothing.
    assert all(o["mean_ms"] == 0.0 for o in ops if o.get("no_event"))


@pytest.mark.parametrize("mode", ["int8", "float16"])
def test_it_profiles_quantized_models(mode: str, tmp_path: Path) -> None:
    """Full int8 (QUANTIZE/DEQUANTIZE at the edges) and float16 (weights dequantized at load)."""
    import keras
    import numpy as np

    from compression.export import to_tflite

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3)(x)
    outputs = keras.layers.Dense(4)(keras.layers.Flatten()(x))
    sample = np.random.default_rng(0).random((8, 12, 12, 3), dtype=np.float32)
    path = tmp_path / f"{mode}.tflite"
    path.write_bytes(to_tflite(keras.Model(inputs, outputs), mode, sample))

    ops, _ = in_graph.in_graph_times(str(path), 1, QUICK, seed=0)

    compute = [o for o in ops if o["type"] in COMPUTE]
    assert len(compute) == 3 and not any(o.get("no_event") for o in compute)
    assert all(o["mean_ms"] > 0 for o in compute if o["type"].endswith("CONV_2D"))
    if mode == "float16":  # the weights' DEQUANTIZE runs once, at load, never in a run
        dequantize = [o for o in ops if o["type"] == "DEQUANTIZE"]
        assert dequantize and all(o.get("no_event") and o["mean_ms"] == 0 for o in dequantize)


def test_it_falls_back_to_timing_each_operator_alone_and_says_why(
    residual_tflite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A LiteRT build whose C library lacks the profiler's entry point.
    monkeypatch.setitem(litert_c._SIGNATURES, "LiteRtNoSuchProfilerCall", [])
    monkeypatch.setattr(litert_c, "_library", functools.cache(litert_c._library.__wrapped__))
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(residual_tflite))
    inputs = random_inputs(interpreter.get_input_details(), 0)

    result = breakdown.op_breakdown(str(residual_tflite), 1, QUICK, inputs, seed=0)

    assert result["method"].startswith("measured: each operator carved")
    assert result["scope"] == "single-op"
    assert "LiteRtNoSuchProfilerCall" in result["in_graph_reason"]
    assert len(result["ops"]) == len(in_graph.operator_types(str(residual_tflite)))
    assert all(o["mean_ms"] > 0 for o in result["ops"] if o["type"] in COMPUTE)
    assert "profiled_runs" not in result


def test_it_names_a_model_litert_cannot_load(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"not a flatbuffer" * 16)
    with pytest.raises(litert_c.LiteRtError, match="LiteRtCreateModelFromFile failed"):
        litert_c.CompiledModel(corrupt, 1, profile=True)


def test_it_profiles_at_most_its_cap_whatever_the_protocols_minimum(residual_tflite: Path) -> None:
    # A job's protocol may ask for a million timed runs; the profiler keeps every run's
    # events, so it stops at its own cap.
    greedy = ProtocolConfig(
        warmup_runs=1, min_runs=1_000_000, max_runs=1_000_000, max_seconds=0.2, idle_seconds=0
    )
    ops, runs = in_graph.in_graph_times(str(residual_tflite), 1, greedy, seed=0)

    assert runs == in_graph.MAX_PROFILED_RUNS
    assert len(ops) == len(in_graph.operator_types(str(residual_tflite)))
