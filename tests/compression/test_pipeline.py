import hashlib

import keras
import numpy as np
import pytest

from compression.modelio import load_model, weights_sha256
from compression.pipeline import artifact_key, compress
from compression.plan import Plan
from compression.training import FineTune

PLAN = "W3(s=0.5)@fc1,fc2 + Q-int8"


@pytest.fixture(scope="module")
def compressed(lenet, digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("artifacts")
    before = [np.array(w) for w in lenet.get_weights()]
    budget = FineTune(epochs=1, batch_size=64, seed=0)
    return out, before, compress(lenet, PLAN, digits, out, fine_tune=budget)


def test_it_writes_both_files_named_by_the_key(compressed, lenet):
    out, _, output = compressed
    key = hashlib.sha256((weights_sha256(lenet) + Plan.parse(PLAN).canonical()).encode())
    assert output.key == key.hexdigest()
    assert output.keras_path == out / f"{output.key}.keras"
    assert output.tflite_path == out / f"{output.key}.tflite"
    assert output.keras_path.stat().st_size > 0
    assert output.tflite_path.read_bytes()[4:8] == b"TFL3"  # the flatbuffer identifier
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [output.keras_path.name, output.tflite_path.name]
    )  # no temporary file left behind


def test_it_leaves_the_input_model_alone(compressed, lenet):
    _, before, _ = compressed
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_reports_the_plan_and_its_export_mode(compressed):
    _, _, output = compressed
    assert output.plan == "W3(s=0.5)@fc1,fc2 + Q-int8"
    assert output.export_mode == "int8"
    assert output.seconds > 0


def test_it_measures_the_static_metrics_of_the_quantized_file(compressed, lenet):
    _, _, output = compressed
    metrics = output.static_metrics
    assert "int8" in metrics["weight_dtypes"] and "float32" not in metrics["weight_dtypes"]
    assert metrics["file_size_bytes"] == output.tflite_path.stat().st_size
    assert 0 < metrics["gzip_size_bytes"] < metrics["file_size_bytes"]
    assert metrics["params"] == lenet.count_params()
    # Half of fc1's and fc2's kernels are zero (biases and other layers are not pruned).
    pruned = sum(int(np.prod(lenet.get_layer(n).kernel.shape)) for n in ("fc1", "fc2"))
    assert metrics["nonzero_params"] <= lenet.count_params() - pruned // 2 + 2
    assert metrics["macs"] > 0 and metrics["sp_bits"] > 0


def test_it_evaluates_the_file_on_the_test_split(compressed, digits):
    _, _, output = compressed
    quality = output.accuracy_metrics
    assert quality["accuracy"] > 0.5
    for name in ("precision", "recall", "f1"):
        assert 0 < quality[name] <= 1


def test_it_says_how_far_the_accuracy_stayed_below_the_starting_model(compressed, lenet, digits):
    _, _, output = compressed
    said = output.static_metrics["recovery"]
    keras_accuracy = float(
        np.mean(lenet.predict(digits.x_test, verbose=0).argmax(1) == digits.y_test)
    )
    assert said["baseline_accuracy"] == pytest.approx(keras_accuracy)
    gap = (keras_accuracy - output.accuracy_metrics["accuracy"]) * 100
    assert said["gap_points"] == pytest.approx(gap, abs=0.01)
    assert said["threshold_points"] == 3.0
    assert said["recovered"] is (gap <= 3.0)


def test_it_says_a_compression_did_not_recover_when_it_lost_more_than_three_points(lenet, digits):
    from compression.pipeline import recovery

    keras_accuracy = float(
        np.mean(lenet.predict(digits.x_test, verbose=0).argmax(1) == digits.y_test)
    )
    lost = recovery(lenet, keras_accuracy - 0.05, digits)
    assert lost["recovered"] is False and lost["gap_points"] == pytest.approx(5.0, abs=0.01)
    kept = recovery(lenet, keras_accuracy - 0.02, digits)
    assert kept["recovered"] is True


def test_it_saves_a_loadable_keras_model_with_the_pruned_kernels(compressed, lenet, digits):
    _, _, output = compressed
    saved = load_model(output.keras_path)
    assert saved.output_shape == lenet.output_shape
    assert abs(np.mean(keras.ops.convert_to_numpy(saved.get_layer("fc1").kernel) == 0) - 0.5) < 0.01
    predicted = saved.predict(digits.x_test, verbose=0).argmax(axis=1)
    assert np.mean(predicted == digits.y_test) > 0.5


def test_it_lands_the_same_model_and_plan_at_the_same_path(compressed, lenet, digits):
    out, _, first = compressed
    again = compress(lenet, Plan.parse(PLAN), digits, out, fine_tune=FineTune(epochs=0))
    assert again.key == first.key == artifact_key(lenet, " W3( s=0.5 )@fc1,fc2,fc1+Q-int8")
    assert (again.keras_path, again.tflite_path) == (first.keras_path, first.tflite_path)
    assert len(list(out.iterdir())) == 2


def test_it_gives_another_plan_another_key(compressed, lenet, digits, tmp_path):
    _, _, first = compressed
    assert artifact_key(lenet, "W3(s=0.6)@fc1,fc2 + Q-int8") != first.key
    assert artifact_key(lenet, "W3(s=0.5)@fc1,fc2 + Q-dyn") != first.key
    baseline = compress(lenet, Plan.baseline(), digits, tmp_path)
    assert baseline.key != first.key and baseline.key == artifact_key(lenet, "baseline")
    assert baseline.export_mode == "float32"
    assert "float32" in baseline.static_metrics["weight_dtypes"]
    assert baseline.accuracy_metrics["accuracy"] > 0.5


def test_it_names_the_failing_step(lenet, digits, tmp_path):
    with pytest.raises(ValueError, match=r"step 1 \(W1f@conv1\) failed"):
        compress(lenet, "W1f@conv1", digits, tmp_path)
    assert list(tmp_path.iterdir()) == []
