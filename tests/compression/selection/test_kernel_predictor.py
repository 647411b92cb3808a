import keras
import numpy as np
import pytest

from compression.export import to_tflite
from compression.selection.kernel_predictor import (
    KernelPredictor,
    ModelTiming,
    leave_one_architecture_out,
)
from compression.selection.kernels import (
    Kernel,
    kernels_of,
    timings_from_breakdown,
    timings_from_run_order,
)
from device_runner.drivers.benchmark_model_output import OpRow


def conv_bn_relu6() -> keras.Model:
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4)(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def tflite() -> bytes:
    return to_tflite(conv_bn_relu6(), "float32")


def test_it_reads_fused_kernels_from_the_flatbuffer(tflite):
    kernels = kernels_of(tflite)
    types = [k.op_type for k in kernels]
    assert types.count("CONV_2D") == 1  # Conv2D + BN + ReLU6 fused into one kernel
    assert "DEPTHWISE_CONV_2D" in types and "FULLY_CONNECTED" in types
    conv = kernels[types.index("CONV_2D")]
    assert (conv.kernel_h, conv.kernel_w, conv.stride) == (3, 3, 2)
    assert (conv.in_channels, conv.out_channels) == (3, 8)
    assert conv.macs == 8 * 8 * 8 * 3 * 3 * 3
    assert conv.input_elements == 16 * 16 * 3 and conv.output_elements == 8 * 8 * 8
    assert conv.weight_elements >= 8 * 3 * 3 * 3
    assert (conv.activation_bits, conv.weight_bits) == (32, 32)
    dense = kernels[types.index("FULLY_CONNECTED")]
    assert dense.macs == 8 * 4


def test_it_reads_int8_kernels_at_8_bits():
    model = conv_bn_relu6()
    sample = np.random.default_rng(0).random((8, 16, 16, 3)).astype("float32")
    kernels = kernels_of(to_tflite(model, "int8", sample))
    conv = next(k for k in kernels if k.op_type == "CONV_2D")
    assert (conv.activation_bits, conv.weight_bits) == (8, 32)  # int8 weights, int32 bias


def test_it_matches_the_local_breakdown_and_the_benchmark_model_profile(tflite):
    kernels = kernels_of(tflite)
    ops = [{"index": k.index, "type": k.op_type, "mean_ms": 0.1 * (k.index + 1)} for k in kernels]
    assert timings_from_breakdown({"ops": ops}, kernels) == [o["mean_ms"] for o in ops]
    rows = [OpRow(k.op_type, None, 0.2, 0.5, 10.0, 10.0, 1.0, 1, "x") for k in kernels]
    assert timings_from_run_order(rows, kernels) == [0.5] * len(kernels)
    with pytest.raises(ValueError, match="needs 'ops'"):
        timings_from_breakdown({"by_type": {"CONV_2D": 1.0}}, kernels)
    with pytest.raises(ValueError, match="a delegate probably replaced some"):
        timings_from_run_order(rows[:1], kernels)
    ops[0]["type"] = "ADD"
    with pytest.raises(ValueError, match="Received: 'ADD'"):
        timings_from_breakdown({"ops": ops}, kernels)


def synthetic_conv(rng: np.random.Generator, width: float, op_type: str) -> Kernel:
    side = int(rng.choice([4, 8, 16, 32]))
    cin = max(1, int(width * rng.choice([8, 16, 32, 64])))
    cout = cin if op_type == "DEPTHWISE_CONV_2D" else max(1, int(width * rng.choice([8, 16, 64])))
    k = int(rng.choice([1, 3]))
    macs = side * side * cout * k * k * (1 if op_type == "DEPTHWISE_CONV_2D" else cin)
    return Kernel(0, op_type, macs, side * side * cin, side * side * cout, k * k * cin * cout,
                  k, k, 1, cin, cout, 32, 32)  # fmt: skip


# Known structure: time = per-type cost per MAC + per-type fixed cost, and 1 ms invoke overhead.
COST = {"CONV_2D": (2e-6, 0.01), "DEPTHWISE_CONV_2D": (8e-6, 0.005)}


def synthetic_models(seed: int) -> list[ModelTiming]:
    rng = np.random.default_rng(seed)
    models = []
    for family, width in (("narrow", 0.5), ("mid", 1.0), ("wide", 1.5), ("deep", 1.0)):
        for variant in range(6):
            kernels = tuple(
                synthetic_conv(rng, width, str(rng.choice(list(COST)))) for _ in range(12)
            )
            times = [COST[k.op_type][0] * k.macs + COST[k.op_type][1] for k in kernels]
            noisy = tuple(t * float(rng.normal(1, 0.02)) for t in times)
            latency = 0.9 * sum(times) + 1.0
            models.append(ModelTiming(f"{family}-{variant}", family, kernels, noisy, latency))
    return models


def test_it_predicts_held_out_architectures_from_kernel_timings():
    report = leave_one_architecture_out(synthetic_models(0))
    assert len(report.rows) == 24
    assert report.within_10_pct >= 0.9
    assert report.within_10_pct > report.median_within_10_pct + 0.3


def test_it_learns_the_device_overhead_term():
    models = synthetic_models(1)
    predictor = KernelPredictor().fit(models)
    assert predictor.scale == pytest.approx(0.9, rel=0.05)
    assert predictor.overhead_ms == pytest.approx(1.0, abs=0.3)
    kernels = models[0].kernels
    per_kernel = predictor.kernel_ms(kernels)
    truth = [COST[k.op_type][0] * k.macs + COST[k.op_type][1] for k in kernels]
    assert np.median(np.abs(per_kernel - truth) / truth) < 0.1


def test_it_never_predicts_a_negative_latency():
    # Whole latencies below the kernel sums, more so for larger models: a least-squares
    # line through them has a negative intercept, which put small models below zero.
    models = [
        ModelTiming(m.name, m.architecture, m.kernels, m.kernel_ms, 0.6 * sum(m.kernel_ms) - 0.05)
        for m in synthetic_models(2)
    ]
    predictor = KernelPredictor().fit(models)
    assert predictor.overhead_ms == 0.0
    assert predictor.scale == pytest.approx(0.6, rel=0.1)
    tiny = (synthetic_conv(np.random.default_rng(0), 0.1, "CONV_2D"),)
    assert predictor.predict(tiny) > 0


def test_it_refuses_what_it_cannot_learn_from():
    with pytest.raises(ValueError, match="Received: 0 kernels"):
        KernelPredictor().fit([])
    with pytest.raises(ValueError, match="Received: kind='svm'"):
        KernelPredictor(kind="svm")
    with pytest.raises(ValueError, match="at least two architectures"):
        leave_one_architecture_out(synthetic_models(0)[:3])
    with pytest.raises(ValueError, match="Every kernel needs a time"):
        ModelTiming("m", "a", (), (1.0,))
