import json

import keras

from benchmarks.litert_op_profile import main, map_events_to_ops
from compression.export import to_tflite


def residual_net() -> keras.Model:
    """Conv + BN + ReLU6, a depthwise conv, a residual add and a dense head."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Add()([x, y])
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4)(x)
    return keras.Model(inputs, outputs)


def test_it_times_every_compute_operator_inside_one_run(tmp_path):
    model = tmp_path / "residual.tflite"
    model.write_bytes(to_tflite(residual_net(), "float32"))
    out = tmp_path / "profile.json"
    main([str(model), "1", "-n", "5", "-w", "2", "--json", str(out)])
    profile = json.loads(out.read_text())
    compute = {
        i
        for i, op in enumerate(profile["tflite_ops"])
        if op in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "FULLY_CONNECTED")
    }
    timed = {e["tflite_index"] for e in profile["op_events"]}
    assert len(compute) == 4 and compute <= timed
    assert None not in timed
    assert profile["op_sum_ms"] > 0
    assert profile["latency"]["no_profiler"]["n"] == 5


def test_it_anchors_builtin_kernel_events_on_their_own_operator():
    ops = ["CONV_2D", "SOFTMAX"]
    events = [
        {"type": 8, "tag": "Convolution (NHWC, F32) IGEMM", "md1": 0},
        {"type": 2, "tag": "SOFTMAX", "md1": 1},
    ]
    mapping, fused = map_events_to_ops(events, ops)
    assert [index for index, _ in mapping] == [0, 1]
    assert mapping[1][1] == "exact" and fused == []
