"""The local driver measures a real tiny .tflite in a child process and reports failures."""

from __future__ import annotations

import collections
import hashlib
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from device_runner.drivers import DriverError, get_driver
from device_runner.drivers.base import Driver, driver_kinds, register_driver
from device_runner.drivers.local import LocalDriver
from measurements.protocol import ProtocolConfig

QUICK = ProtocolConfig(warmup_runs=2, min_runs=10, max_runs=300, max_seconds=1.0, idle_seconds=0)


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conv + pool + dense model converted through a SavedModel, as export does."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    directory = tmp_path_factory.mktemp("tiny")
    keras.Model(inputs, outputs).export(directory / "saved", format="tf_saved_model", verbose=False)
    path = directory / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(directory / "saved")).convert())
    return path


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_it_measures_a_real_tiny_model(tiny_tflite: Path, tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    driver = get_driver("local", {"rapl_root": str(tmp_path / "no-powercap")})
    prepared = driver.prepare(tiny_tflite)
    assert prepared.sha256 == hashlib.sha256(tiny_tflite.read_bytes()).hexdigest()
    result = driver.measure(prepared, num_threads=2, protocol=QUICK)
    lat = result["latency"]
    assert QUICK.min_runs <= lat["runs"] <= QUICK.max_runs
    assert lat["mean_ms"] > 0 and lat["p90_ms"] >= lat["median_ms"] > 0
    assert result["init_ms"] > 0 and result["first_inference_ms"] > 0
    assert result["peak_memory_bytes"] >= result["baseline_memory_bytes"] > 0
    assert result["provenance"]["num_threads"] == 2
    assert result["provenance"]["artifact_sha256"] == prepared.sha256
    assert result["protocol"] == QUICK.get_config()
    assert result["energy"] is None and "No Intel RAPL domain" in result["energy_reason"]
    # The breakdown covers every operator the interpreter runs, counted independently.
    ops = Interpreter(model_path=str(tiny_tflite))._get_ops_details()
    expected = collections.Counter(op["op_name"] for op in ops)
    by_type = result["op_breakdown"]["by_type"]
    assert {k: v["count"] for k, v in by_type.items()} == dict(expected)
    assert {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"} <= set(by_type)
    assert all(by_type[kind]["ms"] > 0 for kind in ("CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"))
    assert sum(v["share"] for v in by_type.values()) == pytest.approx(1.0)
    assert result["op_breakdown_method"] == result["op_breakdown"]["method"]
    assert result["op_breakdown_method"].startswith("measured in-graph")
    assert result["op_breakdown"]["profiled_runs"] >= QUICK.min_runs
    assert result["op_breakdown"]["scope"] == "in-graph"


@pytest.fixture(scope="module")
def tiny_float16(tiny_tflite: Path) -> Path:
    """The same network with float16 weights: a DEQUANTIZE of constants feeds each kernel."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(tiny_tflite.parent / "saved"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    path = tiny_tflite.parent / "tiny-f16.tflite"
    path.write_bytes(converter.convert())
    return path


def test_it_times_a_float16_model_alone_with_its_weight_dequantize_at_load(
    tiny_float16: Path,
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from device_runner.drivers.invoke import random_inputs
    from device_runner.drivers.single_op import single_op_times

    interpreter = Interpreter(model_path=str(tiny_float16))
    inputs = random_inputs(interpreter.get_input_details(), 0)
    ops = single_op_times(str(tiny_float16), 1, QUICK, inputs)

    dequantize = [op for op in ops if op["type"] == "DEQUANTIZE"]
    assert len(dequantize) >= 2  # the conv's and the dense layer's kernels
    assert all(op["mean_ms"] == 0.0 and op["at_load"] for op in dequantize)
    kernels = [op for op in ops if op["type"] in {"CONV_2D", "FULLY_CONNECTED"}]
    assert len(kernels) == 2 and all(op["mean_ms"] > 0 and "at_load" not in op for op in kernels)


def test_it_carves_a_float16_kernel_with_its_dequantized_weights_as_constants(
    tiny_float16: Path,
) -> None:
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.tools import flatbuffer_utils

    from device_runner.drivers.invoke import make_infer
    from device_runner.drivers.single_op import reference_values, single_op_model

    model = flatbuffer_utils.read_model(str(tiny_float16))
    operators = model.subgraphs[0].operators
    names = [flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in operators]
    conv = operators[names.index("CONV_2D")]
    x = np.random.default_rng(0).random((1, 12, 12, 1), dtype=np.float32)
    ref = reference_values(str(tiny_float16), [x])
    at_load = {
        t: ref.get_tensor(t)
        for op, name in zip(operators, names, strict=True)
        if name == "DEQUANTIZE"
        for t in op.outputs
    }

    _, fed_weights = single_op_model(model, names.index("CONV_2D"))
    content, sources = single_op_model(model, names.index("CONV_2D"), at_load)

    assert len(fed_weights) == 3  # activation, kernel and bias all fed at run time
    assert sources == [conv.inputs[0]]  # only the activation: the weights are constants
    carved = Interpreter(model_content=content)
    carved.allocate_tensors()
    make_infer(carved, [ref.get_tensor(sources[0])])()
    out = carved.get_tensor(carved.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, ref.get_tensor(conv.outputs[0]), rtol=1e-5, atol=1e-6)


def test_it_measures_energy_when_a_rapl_counter_is_readable(
    tiny_tflite: Path, tmp_path: Path
) -> None:
    domain = tmp_path / "powercap" / "intel-rapl:0"
    domain.mkdir(parents=True)
    (domain / "max_energy_range_uj").write_text(f"{10**15}\n")
    counter, stop, origin = domain / "energy_uj", threading.Event(), time.time()

    def writer() -> None:  # a fake package drawing a constant 12 W
        while not stop.is_set():
            (domain / "tmp").write_text(f"{int(12.0 * (time.time() - origin) * 1e6)}\n")
            os.replace(domain / "tmp", counter)
            time.sleep(0.0005)

    writer_thread = threading.Thread(target=writer)
    writer_thread.start()
    try:
        driver = LocalDriver({"rapl_root": str(domain.parent), "op_breakdown": False})
        # 200 Hz: the energy window lasts at least 200 periods = 1 s.
        protocol = QUICK.replace(idle_seconds=0.5, sample_hz=200)
        result = driver.measure(driver.prepare(tiny_tflite), num_threads=1, protocol=protocol)
    finally:
        stop.set()
        writer_thread.join()
    energy = result["energy"]
    assert energy["method"] == "measured (Intel RAPL)" and result["energy_reason"] is None
    # Loose bounds: this checks the pipeline and its units (uJ -> W would be off by
    # 1e3 or 1e6), not the fake sensor, whose writer thread in this process lags
    # while the child's inference and other jobs hold both cores. The exact
    # conversion is checked in tests/measurements/test_power_rapl.py.
    assert energy["idle_power_w"] == pytest.approx(12.0, rel=0.3)
    assert energy["average_power_w"] == pytest.approx(12.0, rel=0.5)
    assert energy["idle_deducted"] is True and len(result["power"]) > 50
    assert energy["window_s"] >= 1.0 and energy["runs"] >= result["latency"]["runs"]
    assert result["op_breakdown"] is None and result["op_breakdown_method"] is None
    assert result["op_breakdown_reason"] == "not requested"


def test_it_reports_a_corrupt_model(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"this is not a flatbuffer" * 8)
    driver = LocalDriver({"op_breakdown": False})
    with pytest.raises(DriverError, match=r"measuring .*corrupt\.tflite failed: ValueError"):
        driver.measure(driver.prepare(corrupt), num_threads=1, protocol=QUICK)


def test_it_reports_a_child_killed_by_a_signal(tiny_tflite: Path, tmp_path: Path) -> None:
    python = _fake_python(tmp_path, "echo 'kernel blew up' >&2\nkill -SEGV $$")
    driver = LocalDriver({"python": python})
    with pytest.raises(DriverError, match="killed by SIGSEGV") as caught:
        driver.measure(driver.prepare(tiny_tflite), num_threads=1, protocol=QUICK)
    assert "kernel blew up" in str(caught.value) and str(tiny_tflite) in str(caught.value)


def test_it_reports_a_child_that_exits_with_garbage(tiny_tflite: Path, tmp_path: Path) -> None:
    python = _fake_python(tmp_path, "echo 'not json'\necho 'out of memory' >&2\nexit 3")
    driver = LocalDriver({"python": python})
    with pytest.raises(DriverError, match="exited with code 3 without a JSON") as caught:
        driver.measure(driver.prepare(tiny_tflite), num_threads=1, protocol=QUICK)
    assert "out of memory" in str(caught.value) and "not json" in str(caught.value)


def test_it_kills_a_child_that_hangs(tiny_tflite: Path, tmp_path: Path) -> None:
    driver = LocalDriver({"python": _fake_python(tmp_path, "sleep 30"), "timeout_seconds": 0.5})
    started = time.monotonic()
    with pytest.raises(DriverError, match="killed after the 0.5 s timeout"):
        driver.measure(driver.prepare(tiny_tflite), num_threads=1, protocol=QUICK)
    assert time.monotonic() - started < 10


def test_it_refuses_a_missing_artifact_and_bad_threads(tiny_tflite: Path, tmp_path: Path) -> None:
    driver = LocalDriver()
    with pytest.raises(DriverError, match="does not exist"):
        driver.prepare(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="Received: num_threads=0"):
        driver.measure(driver.prepare(tiny_tflite), num_threads=0, protocol=QUICK)


def test_it_reports_local_health(tmp_path: Path) -> None:
    report = LocalDriver({"rapl_root": str(tmp_path)}).health_check()
    assert report.ok and report.reachable
    assert report.runtime is not None and report.runtime.startswith("ai_edge_litert ")
    assert report.sensor is None
    assert any("energy will be estimated" in m for m in report.messages)
    broken = LocalDriver({"python": _fake_python(tmp_path, "echo nope >&2; exit 1")})
    bad = broken.health_check()
    assert not bad.ok and bad.runtime is None and "nope" in bad.messages[0]


def test_it_finds_drivers_by_kind() -> None:
    assert isinstance(get_driver("local"), LocalDriver)
    with pytest.raises(DriverError, match="known kinds: .*local"):
        get_driver("toaster")
    with pytest.raises(ValueError, match="already registered"):
        register_driver("local")(type("Other", (Driver,), {}))
    assert "local" in driver_kinds()


def test_it_starts_the_child_without_keras_or_tensorflow() -> None:
    # Importing TensorFlow would add seconds and hundreds of MB to every measurement.
    probe = (
        "import sys, device_runner.drivers.child; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'django') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_it_reports_the_childs_own_peak_memory_not_the_runners(
    tiny_tflite: Path, tmp_path: Path
) -> None:
    # Linux carries ru_maxrss across fork+exec: a runner holding 600 MB would
    # otherwise show up as every model's peak memory.
    ballast = bytearray(600 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page so it is resident
    driver = LocalDriver({"work_dir": str(tmp_path)})
    prepared = driver.prepare(tiny_tflite)
    result = driver.measure(prepared, 1, QUICK)
    assert 0 < result["peak_memory_bytes"] < 400 * 1024 * 1024
    del ballast
