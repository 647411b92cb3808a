"""Static metrics: params, MACs, Sp/Sf storage, file and gzip sizes, eq. 5 energy."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from compression.analysis import (
    E1_PJ,
    analyze_keras,
    analyze_tflite,
    estimate_energy_mj,
    static_metrics,
)
from compression.data import Dataset
from compression.export import to_tflite


def conv(h: int, w: int, k: int, cin: int, cout: int) -> tuple[int, int]:
    """(params, MACs) of a 'same' stride-1 conv on an h x w map, bias included."""
    return k * k * cin * cout + cout, h * w * k * k * cin * cout


def dense(n: int, m: int) -> tuple[int, int]:
    return n * m + m, n * m


# LeNet on 8x8x1 digits: conv1 6@5x5 same, pool 2 same -> 4x4x6, conv2 16@5x5 same,
# pool -> 2x2x16, flatten 64, fc1 120, fc2 84, fc3 10.
CONV1, CONV2 = conv(8, 8, 5, 1, 6), conv(4, 4, 5, 6, 16)
FC1, FC2, FC3 = dense(2 * 2 * 16, 120), dense(120, 84), dense(84, 10)
LENET_PARAMS = sum(p for p, _ in (CONV1, CONV2, FC1, FC2, FC3))
LENET_MACS = sum(m for _, m in (CONV1, CONV2, FC1, FC2, FC3))
LENET_KERNELS = 5 * 5 * 1 * 6 + 5 * 5 * 6 * 16 + 64 * 120 + 120 * 84 + 84 * 10
LENET_BIASES = 6 + 16 + 120 + 84 + 10
# Input, then each layer's output: conv1, pool1, conv2, pool2, flatten, fc1, fc2, fc3.
LENET_ACTIVATIONS = 8 * 8 * 1 + 8 * 8 * 6 + 4 * 4 * 6 + 4 * 4 * 16 + 2 * 2 * 16 + 64 + 120 + 84 + 10


@pytest.fixture(scope="module")
def files(lenet: keras.Model, digits: Dataset) -> dict[str, bytes]:
    sample = digits.representative_sample(200)
    return {mode: to_tflite(lenet, mode, sample) for mode in ("float32", "float16", "int8")}


@pytest.fixture(scope="module")
def pruned(lenet: keras.Model) -> keras.Model:
    """LeNet with the 80% smallest-magnitude weights of every kernel set to zero."""
    model = keras.models.clone_model(lenet)
    model.set_weights(lenet.get_weights())
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            kernel, bias = layer.get_weights()
            smallest = np.argsort(np.abs(kernel), axis=None)[: round(0.8 * kernel.size)]
            kernel.flat[smallest] = 0.0
            layer.set_weights([kernel, bias])
    return model


def test_it_counts_lenet_params_and_macs_by_hand(lenet: keras.Model) -> None:
    metrics = analyze_keras(lenet)
    assert metrics["params"] == LENET_PARAMS
    assert metrics["macs"] == LENET_MACS
    assert metrics["sp_bits"] == 32 * LENET_PARAMS
    assert metrics["sf_bits"] == 32 * LENET_ACTIVATIONS
    assert metrics["nonzero_params"] == sum(np.count_nonzero(w) for w in lenet.get_weights())


def test_it_splits_params_and_macs_by_layer_type(lenet: keras.Model) -> None:
    by_type = analyze_keras(lenet)["by_layer_type"]
    assert by_type["Conv2D"] == {"params": CONV1[0] + CONV2[0], "macs": CONV1[1] + CONV2[1]}
    assert by_type["Dense"] == {
        "params": FC1[0] + FC2[0] + FC3[0],
        "macs": FC1[1] + FC2[1] + FC3[1],
    }
    assert by_type["MaxPooling2D"] == {"params": 0, "macs": 0}


def test_it_recurses_into_nested_models(lenet: keras.Model) -> None:
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(5, name="head")(lenet(inputs))
    outer = keras.Model(inputs, outputs)
    metrics = analyze_keras(outer)
    assert metrics["params"] == LENET_PARAMS + 10 * 5 + 5
    assert metrics["macs"] == LENET_MACS + 10 * 5
    assert metrics["sf_bits"] == 32 * (LENET_ACTIVATIONS + 5)


def test_it_counts_depthwise_and_separable_macs() -> None:
    inputs = keras.Input((10, 10, 4))
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(inputs)  # 8x8x8
    x = keras.layers.SeparableConv2D(5, 3, padding="same", name="sep")(x)  # 8x8x5
    x = keras.layers.Conv2D(6, 1, strides=2, groups=1, name="pw")(x)  # 4x4x6
    model = keras.Model(inputs, x)
    depthwise = 8 * 8 * 3 * 3 * 4 * 2
    separable = 8 * 8 * 3 * 3 * 8 + 8 * 8 * 8 * 5
    pointwise = 4 * 4 * 5 * 6
    metrics = analyze_keras(model)
    assert metrics["macs"] == depthwise + separable + pointwise
    assert metrics["by_layer_type"]["SeparableConv2D"]["macs"] == separable


def test_it_reads_weights_and_macs_from_the_float32_file(files: dict[str, bytes]) -> None:
    metrics = analyze_tflite(files["float32"])
    assert metrics["params"] == LENET_PARAMS
    assert metrics["sp_bits"] == 32 * LENET_PARAMS
    assert metrics["weight_dtypes"] == ["float32"]
    assert metrics["macs"] == LENET_MACS
    assert metrics["by_op_type"]["CONV_2D"] == 2
    assert metrics["by_op_type"]["FULLY_CONNECTED"] == 3
    assert metrics["file_size_bytes"] == len(files["float32"])


def test_it_counts_int8_weights_at_8_bits_and_biases_at_32(files: dict[str, bytes]) -> None:
    int8, float32 = analyze_tflite(files["int8"]), analyze_tflite(files["float32"])
    assert int8["weight_dtypes"] == ["int32", "int8"]
    assert int8["params"] == LENET_PARAMS
    assert int8["sp_bits"] == 8 * LENET_KERNELS + 32 * LENET_BIASES
    assert 0.25 <= int8["sp_bits"] / float32["sp_bits"] < 0.3
    # Every activation is int8 too: a quarter of the float32 file's.
    assert int8["sf_bits"] * 4 == float32["sf_bits"]


def test_it_counts_float16_weights_at_16_bits(files: dict[str, bytes]) -> None:
    float16 = analyze_tflite(files["float16"])
    assert float16["weight_dtypes"] == ["float16"]
    assert float16["sp_bits"] == 16 * LENET_PARAMS
    # The float32 copies DEQUANTIZE makes at load are weights, not activations.
    assert float16["sf_bits"] == analyze_tflite(files["float32"])["sf_bits"]


def test_it_reads_a_path_like_the_bytes(files: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "lenet.tflite"
    path.write_bytes(files["int8"])
    assert analyze_tflite(path) == analyze_tflite(str(path)) == analyze_tflite(files["int8"])


def test_it_shows_pruning_in_the_gzip_size(pruned: keras.Model, files: dict[str, bytes]) -> None:
    sparse = analyze_tflite(to_tflite(pruned))
    dense = analyze_tflite(files["float32"])
    kept = sum(n - round(0.8 * n) for n in (150, 2400, 7680, 10080, 840))
    # Biases were left alone (a unit that never fired keeps its zero bias).
    biases = sum(np.count_nonzero(layer.bias) for layer in pruned.layers if hasattr(layer, "bias"))
    assert sparse["params"] == dense["params"]
    assert sparse["nonzero_params"] == kept + biases
    assert sparse["file_size_bytes"] == pytest.approx(dense["file_size_bytes"], rel=0.01)
    assert sparse["gzip_size_bytes"] < 0.6 * sparse["file_size_bytes"]
    assert sparse["gzip_size_bytes"] < 0.6 * dense["gzip_size_bytes"]


def test_it_estimates_energy_with_adadeep_eq5() -> None:
    macs, sp_bits, sf_bits = 66_600.0, 684_352.0, 36_544.0
    # e1 = 52.8 pJ = 52.8e-12 J = 52.8e-9 mJ.
    expected_mj = 52.8e-9 * macs + 6 * 52.8e-9 * sp_bits + 200 * 52.8e-9 * sf_bits
    assert E1_PJ == 52.8
    assert estimate_energy_mj(macs, sp_bits, sf_bits) == pytest.approx(expected_mj, rel=1e-12)
    assert estimate_energy_mj(1e9, 0, 0) == pytest.approx(52.8)


def test_it_combines_keras_counts_and_file_sizes(
    lenet: keras.Model, files: dict[str, bytes]
) -> None:
    metrics = static_metrics(lenet, files["int8"])
    from_file = analyze_tflite(files["int8"])
    assert metrics["params"] == LENET_PARAMS
    assert metrics["macs"] == LENET_MACS
    assert metrics["sp_bits"] == from_file["sp_bits"]
    assert metrics["gzip_size_bytes"] == from_file["gzip_size_bytes"]
    assert metrics["weight_dtypes"] == ["int32", "int8"]
    assert metrics["energy_mj"] == pytest.approx(
        estimate_energy_mj(LENET_MACS, from_file["sp_bits"], from_file["sf_bits"])
    )
    assert "estimated" in metrics["energy_source"]
    assert json.loads(json.dumps(metrics)) == metrics


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(0).bytes(4096), b"\x00\x00\x00\x00TFL3" + bytes(64)],
    ids=["random", "empty-graph"],
)
def test_it_rejects_a_corrupt_file(content: bytes) -> None:
    with pytest.raises(ValueError, match=r"TFLite"):
        analyze_tflite(content)


def test_it_rejects_a_truncated_file(files: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match=r"Corrupt TFLite flatbuffer"):
        analyze_tflite(files["float32"][: len(files["float32"]) // 2])


def test_it_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Cannot read the \.tflite file.*missing\.tflite"):
        analyze_tflite(tmp_path / "missing.tflite")
