from benchmarks.kernel_predictor import measure, report
from compression.export import to_tflite
from compression.selection.kernels import kernels_of, timings_from_breakdown
from tests.compression.selection.test_kernel_predictor import conv_bn_relu6, synthetic_models


def test_it_reports_the_predictor_beside_the_median_baseline():
    rows = report(synthetic_models(0))
    best = next(r for r in rows if r["regressor"] == "power+forest" and r["models"] == "all")
    assert best["n"] == 24
    assert best["within 10%"] >= 0.9 > best["median baseline within 10%"]
    assert {r["regressor"] for r in rows} == {"power+forest", "forest", "power"}


def test_its_local_measurement_lines_up_with_the_flatbuffers_kernels(tmp_path):
    path = tmp_path / "tiny.tflite"
    path.write_bytes(to_tflite(conv_bn_relu6(), "float32"))
    measured = measure(path)
    kernels = kernels_of(path)
    times = timings_from_breakdown(measured["op_breakdown"], kernels)
    assert len(times) == len(kernels) and all(t >= 0 for t in times)
    # In-graph times are whole microseconds per run: the tiny dense head may read 0.
    assert all(t > 0 for t, k in zip(times, kernels, strict=True) if k.op_type == "CONV_2D")
    assert measured["latency_ms"] > 0 and measured["repeat_latency_ms"] > 0
