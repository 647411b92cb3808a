import json

from benchmarks.litert_op_profile import main
from compression.export import to_tflite
from tests.device_runner.test_in_graph import residual_net


def test_it_prints_the_operators_sum_beside_the_unprofiled_latency(tmp_path, capsys):
    model = tmp_path / "residual.tflite"
    model.write_bytes(to_tflite(residual_net(strided_tail=False), "float32"))
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
