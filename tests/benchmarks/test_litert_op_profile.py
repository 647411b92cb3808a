import json

import keras

from benchmarks.litert_op_profile import main
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


def test_it_prints_the_operators_sum_beside_the_unprofiled_latency(tmp_path, capsys):
    model = tmp_path / "residual.tflite"
    model.write_bytes(to_tflite(residual_net(), "float32"))
    out = tmp_path / "profile.json"
    main([str(model), "1", "-n", "5", "-w", "2", "--json", str(out)])
    document = json.loads(out.read_text())
    compute = [
        o
        for o in document["ops"]
        if o["type"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "FULLY_CONNECTED")
    ]
    assert len(compute) == 4 and not any(o.get("no_event") for o in compute)
    assert document["op_sum_ms"] == sum(o["mean_ms"] for o in document["ops"]) > 0
    assert document["profiled_runs"] == 5 and document["latency"]["n"] == 5
    printed = capsys.readouterr().out
    assert "sum of operators (measured in-graph, 5 runs)" in printed
    assert "latency without the profiler (measured, 5 runs)" in printed
