"""The adb driver end to end through the fake adb replay shim (tests/device_runner/replay_adb/).

The shim stands in for the adb CLI: it keeps a fake phone file system, answers
``adb devices`` from FAKE_ADB_DEVICES, replays a real benchmark_model transcript and
returns battery readings from a file. Nothing here talks to a real phone.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from device_runner.drivers import adb  # noqa: F401  (registers the "adb" kind)
from device_runner.drivers.base import DriverError, get_driver
from measurements.protocol import ProtocolConfig

SHIM = Path(__file__).parent / "replay_adb" / "fake_adb_replay.py"
SERIAL = "R58M12ABCDE"
PROTOCOL = ProtocolConfig(
    warmup_runs=1, min_runs=10, max_runs=100, max_seconds=2.0, idle_seconds=0.3
)
# tests/device_runner/replay_adb/transcripts/battery_discharging.txt, in W.
IDLE_W = 0.25 * 3.9
RUN_W = 0.75 * 3.9


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake phone's state directory, with one authorised phone attached."""
    state = tmp_path / "phone"
    monkeypatch.setenv("FAKE_ADB_STATE", str(state))
    monkeypatch.setenv("FAKE_ADB_DEVICES", f"{SERIAL}:device,emulator-5554:device")
    monkeypatch.setenv("FAKE_ADB_TRANSCRIPT", "tc2_xnnpack_no_start_column.txt")
    monkeypatch.setenv("FAKE_ADB_BATTERY", "battery_discharging.txt")
    return state


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A host benchmark_model binary (executable) and a model file."""
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF fake aarch64 benchmark_model")
    binary.chmod(0o755)
    model = tmp_path / "model.tflite"
    model.write_bytes(b"TFL3 not really a model")
    return binary, model


def settings(binary: Path, **extra) -> dict:
    return {
        "adb": str(SHIM),
        "serial": SERIAL,
        "benchmark_binary": str(binary),
        "battery_hz": 20,
        "adb_timeout_seconds": 10,
        **extra,
    }


def on_phone(state: Path, remote: str) -> Path:
    return state / "fs" / remote.lstrip("/")


def commands(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "commands.log").read_text().splitlines()]


def benchmark_command(state: Path) -> str:
    runs = [c for c in commands(state) if c[2:3] == ["shell"] and "--graph=" in c[3]]
    assert len(runs) == 1
    return runs[0][3]


def test_it_pushes_runs_parses_samples_power_and_cleans_up(phone, files, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_ADB_WAIT_FOR_POWER_READING", "1")  # a loaded host reads late
    binary, model = files
    driver = get_driver("adb", settings(binary))
    prepared = driver.prepare(model)
    remote_binary = on_phone(phone, "/data/local/tmp/compresso_benchmark_model")
    assert on_phone(phone, prepared.device_path).read_bytes() == model.read_bytes()
    assert prepared.device_path.startswith("/data/local/tmp/compresso_")
    assert remote_binary.read_bytes() == binary.read_bytes()
    assert stat.S_IMODE(remote_binary.stat().st_mode) == 0o755

    result = driver.measure(prepared, 2, PROTOCOL)
    command = benchmark_command(phone)
    for flag in (
        f"--graph={prepared.device_path}",
        "--num_threads=2",
        "--warmup_runs=1",
        "--num_runs=50",
        "--min_secs=1",
        "--max_secs=2",
        "--enable_op_profiling=true",
    ):
        assert flag in command.split()
    assert "--use_gpu" not in command and not command.startswith("taskset")
    # Figures of the replayed TC2 transcript, µs -> ms.
    lat = result["latency"]
    assert lat["mean_ms"] == pytest.approx(7.45497)
    assert (lat["std_ms"], lat["min_ms"], lat["max_ms"]) == pytest.approx((0.256, 6.373, 7.775))
    assert lat["runs"] == 67 and lat["median_ms"] is None and lat["p90_ms"] is None
    assert lat["stop_reason"] == "fixed_runs" and lat["rule_met"] is False
    assert "not applied" in lat["stop_rule"]
    assert lat["cv"] == pytest.approx(256 / 7454.97)
    assert lat["stable"] is True  # cv 0.034 <= 0.25
    assert result["init_ms"] == pytest.approx(16.772)
    assert result["first_inference_ms"] == pytest.approx(8.781)
    assert result["peak_memory_bytes"] == round(10.8789 * 1024 * 1024)
    breakdown = result["op_breakdown"]
    gemm = "Convolution (NHWC, QU8) GEMM"
    assert breakdown["by_type"][gemm]["ms"] == pytest.approx(3.340)
    assert breakdown["by_type"][gemm]["count"] == 54
    assert breakdown["sum_ms"] == pytest.approx(3.340 + 2.240 + 1.339 + 0.278 + 0.119 + 0.005)
    assert [o["type"] for o in breakdown["ops"]][-1] == "TFLite_Detection_PostProcess"
    assert result["op_breakdown_method"].startswith("benchmark_model --enable_op_profiling")
    prov = result["provenance"]
    assert prov["accuracy"].startswith("evaluated on the host through the same .tflite")
    assert prov["artifact_sha256"] == prepared.sha256 and prov["num_threads"] == 2
    assert prov["command"] == command
    energy = result["energy"]
    assert energy["idle_power_w"] == pytest.approx(IDLE_W)
    assert IDLE_W < energy["average_power_w"] <= RUN_W
    # (mean power over the run - idle) x mean latency, W x ms = mJ.
    expected_mj = (energy["average_power_w"] - IDLE_W) * 7.45497
    assert energy["energy_mj"] == pytest.approx(expected_mj)
    assert 0 < energy["energy_mj"] <= (RUN_W - IDLE_W) * 7.45497 + 1e-9
    assert energy["samples"] >= 4 and "USB" in energy["warning"]
    assert max(w for _, w in result["power"]) == pytest.approx(RUN_W)

    driver.cleanup()
    assert not on_phone(phone, prepared.device_path).exists()
    assert not remote_binary.exists()
    driver.cleanup()  # idempotent


def test_it_passes_delegate_and_taskset_and_reads_percentiles(phone, files, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_ADB_TRANSCRIPT", "gpu_percentiles.txt")
    binary, model = files
    driver = get_driver(
        "adb",
        settings(binary, use_gpu=True, use_xnnpack=False, taskset="f0", power=False, num_runs=20),
    )
    result = driver.measure(driver.prepare(model), 4, PROTOCOL)
    words = benchmark_command(phone).split()
    assert words[:2] == ["taskset", "f0"]
    assert {"--use_gpu=true", "--use_xnnpack=false", "--num_runs=20"} <= set(words)
    lat = result["latency"]
    assert (lat["mean_ms"], lat["median_ms"]) == pytest.approx((115.246, 115.35))
    assert (lat["p5_ms"], lat["p95_ms"]) == pytest.approx((112.107, 116.62))
    assert result["peak_memory_bytes"] == round(132.816 * 1024 * 1024)
    assert result["op_breakdown"] is None and "no op tables" in result["op_breakdown_reason"]
    assert result["energy"] is None and "power setting is off" in result["energy_reason"]
    assert result["provenance"]["delegate"] == "gpu"
    driver.cleanup()


def test_it_records_the_delegate_line(phone, files, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_ADB_TRANSCRIPT", "nnapi_delegate_replacing.txt")
    binary, model = files
    driver = get_driver("adb", settings(binary, power=False))
    result = driver.measure(driver.prepare(model), 1, PROTOCOL)
    assert result["provenance"]["delegations"] == [
        {"replaced": 31, "total": 31, "delegate": "TfLiteNnapiDelegate"}
    ]
    assert result["latency"]["runs"] == 520
    assert result["latency"]["stable"] is False  # cv = 870 / 1885.74 = 0.46 > 0.25
    driver.cleanup()


@pytest.mark.parametrize(
    ("devices", "words"),
    [
        (f"{SERIAL}:unauthorized", "has not authorised this computer"),
        (f"{SERIAL}:offline", "attached but offline"),
        ("emulator-5554:device", "is not connected"),
        ("", "is not connected"),
    ],
)
def test_it_fails_plainly_and_marks_offline_a_phone_it_cannot_use(
    phone, files, monkeypatch, devices, words
) -> None:
    monkeypatch.setenv("FAKE_ADB_DEVICES", devices)
    binary, model = files
    driver = get_driver("adb", settings(binary))
    with pytest.raises(DriverError, match=words) as caught:
        driver.prepare(model)
    assert caught.value.device_offline is True
    report = driver.health_check()
    assert report.ok is False and report.reachable is False
    assert any(words in m for m in report.messages)


def test_it_marks_offline_a_phone_that_vanishes_before_the_run(phone, files, monkeypatch) -> None:
    binary, model = files
    driver = get_driver("adb", settings(binary, power=False))
    prepared = driver.prepare(model)
    monkeypatch.setenv("FAKE_ADB_DEVICES", "")
    with pytest.raises(DriverError, match="is not connected") as caught:
        driver.measure(prepared, 1, PROTOCOL)
    assert caught.value.device_offline is True
    assert f"adb: device '{SERIAL}' not found" in str(caught.value)
    driver.cleanup()  # the phone is gone: cleanup does not raise


def test_it_reports_a_benchmark_model_crash(phone, files, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_ADB_TRANSCRIPT", "crash_allocate_tensors.txt")
    binary, model = files
    driver = get_driver("adb", settings(binary, power=False))
    with pytest.raises(DriverError) as caught:
        driver.measure(driver.prepare(model), 1, PROTOCOL)
    message = str(caught.value)
    assert "benchmark_model failed on phone" in message and "exit code 1" in message
    assert "Failed to allocate tensors!" in message
    assert caught.value.device_offline is False
    driver.cleanup()


@pytest.mark.parametrize("problem", ["missing", "not executable", "unset"])
def test_it_refuses_a_missing_or_non_executable_binary(phone, files, problem) -> None:
    binary, model = files
    if problem == "missing":
        binary.unlink()
        expected = "does not exist"
    elif problem == "not executable":
        binary.chmod(0o644)
        expected = "is not executable: run `chmod \\+x"
    else:
        binary = Path("")
        expected = "Set the device's benchmark_binary setting"
    driver = get_driver(
        "adb", settings(binary) | ({"benchmark_binary": ""} if problem == "unset" else {})
    )
    with pytest.raises(DriverError, match=expected) as caught:
        driver.prepare(model)
    assert caught.value.device_offline is False
    assert not (phone / "fs").exists()  # nothing was pushed
    report = driver.health_check()
    assert report.ok is False and report.reachable is True and report.runtime is None


def test_it_says_when_adb_itself_is_missing_or_hangs(phone, files, tmp_path) -> None:
    binary, model = files
    driver = get_driver("adb", settings(binary, adb=str(tmp_path / "no-adb-here")))
    with pytest.raises(DriverError, match="Cannot run adb") as caught:
        driver.prepare(model)
    assert caught.value.device_offline is True
    hanging = tmp_path / "hanging_adb"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(0o755)
    driver = get_driver("adb", settings(binary, adb=str(hanging), adb_timeout_seconds=0.5))
    with pytest.raises(DriverError, match="did not answer within 0.5 s") as caught:
        driver.prepare(model)
    assert caught.value.device_offline is True


def test_it_checks_health_in_plain_language(phone, files, monkeypatch) -> None:
    binary, _ = files
    report = get_driver("adb", settings(binary)).health_check()
    assert report.ok and report.reachable
    assert report.runtime.startswith("benchmark_model")
    assert report.sensor.startswith("android-battery")
    assert any("unplug USB power" in m for m in report.messages)
    monkeypatch.setenv("FAKE_ADB_BATTERY", "missing")
    report = get_driver("adb", settings(binary)).health_check()
    assert report.ok and report.sensor is None
    assert any("energy will be estimated" in m for m in report.messages)


def test_it_measures_without_power_when_the_battery_is_unreadable(phone, files, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_BATTERY", "missing")
    binary, model = files
    driver = get_driver("adb", settings(binary))
    result = driver.measure(driver.prepare(model), 1, PROTOCOL)
    assert result["energy"] is None and "No such file" in result["energy_reason"]
    assert result["latency"]["runs"] == 67
    driver.cleanup()


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        ({"serial": ""}, "serial"),
        ({"taskset": "big"}, "taskset"),
        ({"current_sign": 0}, "current_sign"),
        ({"num_runs": 0}, "num_runs"),
        ({"use_gpu": "yes"}, "use_gpu"),
        ({"adb_timeout_seconds": -1}, "adb_timeout_seconds"),
    ],
)
def test_it_refuses_bad_settings(files, extra, name) -> None:
    with pytest.raises(ValueError, match=f"Received: {name}="):
        get_driver("adb", settings(files[0], **extra))


def test_it_takes_the_serial_from_the_device_address(phone, files) -> None:
    binary, _ = files
    options = settings(binary)
    del options["serial"]
    report = get_driver("adb", {**options, "address": SERIAL}).health_check()
    assert report.reachable and report.ok


@pytest.mark.django_db
def test_its_result_is_stored_as_a_measured_result(phone, files, request) -> None:
    from device_runner.devices import driver_for
    from measurements import actions
    from measurements.models import Device, Job
    from tests.factories import make_device, make_job

    binary, model = files
    # A device names adb from the lab's allow-list and its binary under the lab's files.
    lab = request.getfixturevalue("settings")  # Django's (this module has its own `settings`)
    lab.DEVICE_EXECUTABLES = {"adb": str(SHIM)}
    lab.DEVICE_FILES_DIR = binary.parent
    named = {"serial": None, "adb": "adb", "benchmark_binary": binary.name}
    device = make_device(kind=Device.Kind.ADB, address=SERIAL, settings=settings(binary) | named)
    job = make_job(device=device, num_threads=2)
    claimed = Job.claim("runner-a", [device.pk], lease_seconds=60)
    driver = driver_for(device)  # the serial comes from the device's address
    try:
        raw = driver.measure(driver.prepare(model), 2, PROTOCOL)
    finally:
        driver.cleanup()
    result = actions.store_result(claimed, "runner-a", raw)
    assert result.job_id == job.pk and result.stop_reason == "fixed_runs"
    assert result.runs == 67 and result.latency_mean_ms == pytest.approx(7.45497)
    assert result.latency_median_ms is None and result.stable is True
    assert result.energy_measured is True
    assert result.energy_method == "measured (Android battery current x voltage)"
    assert result.op_breakdown["by_type"]["CONCATENATION"]["count"] == 2
    assert result.op_breakdown["scope"] == "in-graph"  # benchmark_model profiles whole runs
    assert result.provenance["accuracy"].startswith("evaluated on the host")
