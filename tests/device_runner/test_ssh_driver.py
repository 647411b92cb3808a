"""The ssh driver against a real OpenSSH server started by the test on 127.0.0.1.

The "board" is this machine: the agent runs with this virtualenv's Python and
LiteRT, and reads INA3221 rails from a directory the test fills in (both L4T
layouts, through the ``power_root`` setting).
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runner.drivers import DriverError, get_driver
from device_runner.drivers.base import MeasurementResult
from device_runner.drivers.ssh import SshDriver
from measurements.protocol import ProtocolConfig
from tests.device_runner.test_jetson_power import write_hwmon, write_ina3221

SSHD = "/usr/sbin/sshd"
QUICK = ProtocolConfig(
    warmup_runs=2, min_runs=10, max_runs=200, max_seconds=0.5, idle_seconds=0.2, sample_hz=1000
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )
    return path


class Server:
    """An sshd on 127.0.0.1 with a throwaway host key and one authorised client key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.host_key = _keygen(root / "host_ed25519")
        self.client_key = _keygen(root / "client_ed25519")
        (root / "authorized_keys").write_text((root / "client_ed25519.pub").read_text())
        self.known_hosts = root / "known_hosts"
        host_pub = (root / "host_ed25519.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        config = root / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
            "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "Subsystem sftp /usr/lib/openssh/sftp-server\n"
        )
        with contextlib.suppress(PermissionError):  # sshd's privilege-separation directory
            Path("/run/sshd").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(root / "sshd.log", "wb"),  # noqa: SIM115 - closed with the process
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.root / "sshd.log").read_text())
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("sshd did not start listening within 10 s")

    def settings(self, **changes) -> dict:
        return {
            "address": f"{getpass.getuser()}@127.0.0.1",
            "port": self.port,
            "key_path": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "python": sys.executable,
            "work_dir": str(self.root / "work"),
            "ssh_config": "none",
            **changes,
        }

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not os.access(SSHD, os.X_OK):
        pytest.fail(f"{SSHD} is missing: run `make sshd` (apt-get install openssh-server)")
    running = Server(tmp_path_factory.mktemp("sshd"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conv + dense model converted through a SavedModel, as export does."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(4)(keras.layers.Flatten()(x))
    directory = tmp_path_factory.mktemp("tiny")
    keras.Model(inputs, outputs).export(directory / "saved", format="tf_saved_model", verbose=False)
    path = directory / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(directory / "saved")).convert())
    return path


def _measure(driver: SshDriver, model: Path) -> tuple[MeasurementResult, Path]:
    prepared = driver.prepare(model)
    run_dir = Path(prepared.device_path).parent
    assert (run_dir / "measure.py").is_file() and (run_dir / model.name).is_file()
    try:
        return driver.measure(prepared, num_threads=1, protocol=QUICK), run_dir
    finally:
        driver.cleanup()


def test_it_measures_with_ina3221_rails_of_l4t_32(
    server: Server, tiny_tflite: Path, tmp_path: Path
) -> None:
    write_ina3221(tmp_path, {"VDD_IN": 5200, "VDD_SYS_CPU": 900, "VDD_SYS_GPU": 150})
    driver = get_driver("ssh", server.settings(sensor="ina3221", power_root=str(tmp_path)))
    result, run_dir = _measure(driver, tiny_tflite)
    assert set(result) == set(MeasurementResult.__annotations__)
    assert QUICK.min_runs <= result["latency"]["runs"] <= QUICK.max_runs
    assert result["latency"]["mean_ms"] > 0 and result["init_ms"] > 0
    assert result["protocol"] == QUICK.get_config()
    energy = result["energy"]
    assert energy["rails"] == ["VDD_IN"] and energy["sensor"] == "ina3221"
    # Constant rails: run power equals idle power, so the deducted energy is zero.
    assert energy["average_power_w"] == pytest.approx(5.2)
    assert energy["idle_power_w"] == pytest.approx(5.2)
    assert energy["energy_mj"] == pytest.approx(0.0, abs=1e-9) and energy["idle_deducted"]
    assert energy["window_s"] >= 200 / QUICK.sample_hz  # the minimum energy window
    prov = result["provenance"]
    assert prov["runtime"] == "ai_edge_litert" and prov["transport"] == "ssh"
    assert prov["artifact_sha256"] == hashlib.sha256(tiny_tflite.read_bytes()).hexdigest()
    assert prov["device_address"].endswith(f"@127.0.0.1:{server.port}")
    assert prov["jetson_clocks"] == "not requested" and prov["uname"]
    assert not run_dir.exists()  # cleanup removed the run directory


def test_it_measures_with_hwmon_rails_of_l4t_34(
    server: Server, tiny_tflite: Path, tmp_path: Path
) -> None:
    rails = {"VDD_IN": (5000, 1000), "VDD_CPU_GPU_CV": (5000, 300), "VDD_SOC": (5000, 200)}
    write_hwmon(tmp_path, rails)
    chosen = ["VDD_CPU_GPU_CV", "VDD_SOC"]
    settings = server.settings(sensor="hwmon", power_root=str(tmp_path), rail=chosen)
    result, _ = _measure(get_driver("ssh", settings), tiny_tflite)
    assert result["energy"]["rails"] == chosen
    assert result["energy"]["average_power_w"] == pytest.approx((5000 * 300 + 5000 * 200) / 1e6)
    assert result["power"] and all(w == pytest.approx(2.5) for _, w in result["power"])


def test_it_reports_health_in_plain_words(server: Server, tmp_path: Path) -> None:
    write_ina3221(tmp_path, {"VDD_IN": 4000})
    driver = get_driver("ssh", server.settings(sensor="ina3221", power_root=str(tmp_path)))
    report = driver.health_check()
    assert report.ok and report.reachable and report.sensor == "ina3221"
    assert report.runtime.startswith("ai_edge_litert ")
    assert any("4.00 W on rail(s) VDD_IN" in m for m in report.messages)
    no_rails = get_driver("ssh", server.settings(sensor="hwmon", power_root=str(tmp_path)))
    report = no_rails.health_check()
    assert report.reachable and not report.ok
    assert report.messages[0].startswith("Power sensor hwmon not readable")


def test_it_marks_an_unreachable_board_offline(server: Server, tiny_tflite: Path) -> None:
    driver = get_driver("ssh", server.settings(port=_free_port()))
    with pytest.raises(DriverError, match="does not answer over SSH") as caught:
        driver.prepare(tiny_tflite)
    assert caught.value.device_offline
    report = driver.health_check()
    assert not report.reachable and "Connection refused" in report.messages[0]


def test_it_explains_a_refused_key(server: Server, tiny_tflite: Path) -> None:
    other = _keygen(server.root / f"other_{os.getpid()}_{time.monotonic_ns()}")
    driver = get_driver("ssh", server.settings(key_path=str(other)))
    with pytest.raises(DriverError, match="refused the SSH key") as caught:
        driver.prepare(tiny_tflite)
    assert "authorized_keys" in str(caught.value) and caught.value.device_offline


def test_it_refuses_an_unknown_host_key_and_says_how_to_trust_it(
    server: Server, tiny_tflite: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    driver = get_driver("ssh", server.settings(known_hosts=str(empty)))
    with pytest.raises(DriverError, match="not in .*known_hosts") as caught:
        driver.prepare(tiny_tflite)
    message = str(caught.value)
    assert f"ssh-keyscan -p {server.port} 127.0.0.1 >> {empty}" in message
    assert "accept-new" in message and empty.read_text() == ""  # nothing trusted silently
    policy = {"known_hosts": str(empty), "host_key_policy": "accept-new"}
    trusting = get_driver("ssh", server.settings(**policy))
    assert trusting.health_check().reachable
    assert "127.0.0.1" in empty.read_text()  # accept-new recorded the key it trusted


def test_it_rejects_a_policy_that_trusts_every_key(server: Server) -> None:
    with pytest.raises(DriverError, match="host_key_policy must be 'yes' or 'accept-new'"):
        get_driver("ssh", server.settings(host_key_policy="no"))


def test_it_says_the_remote_runtime_is_missing(server: Server, tiny_tflite: Path) -> None:
    driver = get_driver("ssh", server.settings(python="/usr/bin/python3"))
    with pytest.raises(DriverError, match="No TFLite runtime on .*install") as caught:
        _measure(driver, tiny_tflite)
    assert caught.value.device_offline
    report = driver.health_check()
    assert report.reachable and not report.ok and report.runtime is None
    assert report.messages[0].startswith("No TFLite runtime")


def test_it_fails_clearly_on_a_corrupt_model(server: Server, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"TFL3 this is not a flatbuffer" * 10)
    driver = get_driver("ssh", server.settings())
    with pytest.raises(DriverError, match="cannot load the model") as caught:
        _measure(driver, corrupt)
    assert not caught.value.device_offline  # the model's fault, not the board's


def test_it_stops_a_measurement_on_the_board_at_the_timeout(
    server: Server, tiny_tflite: Path
) -> None:
    driver = get_driver("ssh", server.settings(timeout_seconds=1))
    endless = QUICK.replace(target_rel_ci=1e-12, max_runs=10**9, max_seconds=60)
    prepared = driver.prepare(tiny_tflite)
    started = time.monotonic()
    with pytest.raises(DriverError, match="stopped on the board after the 1 s timeout") as caught:
        driver.measure(prepared, num_threads=1, protocol=endless)
    driver.cleanup()
    assert time.monotonic() - started < 15 and not caught.value.device_offline


@pytest.mark.django_db
def test_it_tests_a_connection_from_the_command_line(
    server: Server, tmp_path: Path, settings
) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from device_runner.connection import test_connection
    from measurements.models import Device

    settings.DEVICE_FILES_DIR = server.root  # the key and known_hosts live there
    write_hwmon(tmp_path, {"VDD_IN": (5000, 800)})
    options = server.settings(power_root=str(tmp_path), sensor="hwmon")
    address = options.pop("address")
    device = Device.objects.create(name="tx2", kind="ssh", address=address, settings=options)
    assert test_connection(device).ok
    out = _call(call_command, "testdevice", "tx2")
    assert "reachable: yes" in out and "4.00 W on rail(s) VDD_IN" in out and "ready" in out
    device.settings = {**options, "port": _free_port()}
    device.save()
    with pytest.raises(CommandError, match="cannot measure now"):
        _call(call_command, "testdevice", "tx2")


@pytest.mark.django_db(transaction=True)
def test_it_serves_a_board_job_and_marks_an_unreachable_board_offline(
    server: Server, tiny_tflite: Path, tmp_path: Path, settings
) -> None:
    from django.core.files.base import ContentFile

    from device_runner.runner import Runner
    from measurements.models import Device, Job, Result
    from tests.factories import make_artifact, make_job

    settings.DEVICE_FILES_DIR = server.root  # the key and known_hosts live there
    write_ina3221(tmp_path, {"VDD_IN": 5000})
    options = server.settings(sensor="ina3221", power_root=str(tmp_path))
    address = options.pop("address")
    board = Device.objects.create(
        name="tx2", kind="ssh", address=address, settings=options, online=True
    )
    gone = Device.objects.create(
        name="gone", kind="ssh", address=address, online=True,
        settings={**options, "port": _free_port()},
    )  # fmt: skip
    artifact = make_artifact()
    artifact.tflite_file.save("tiny.tflite", ContentFile(tiny_tflite.read_bytes()))
    served = make_job(artifact=artifact, device=board, protocol=QUICK.get_config())
    failed = make_job(artifact=artifact, device=gone, protocol=QUICK.get_config())
    assert Runner(devices=[board, gone]).run(once=True) == 2
    served.refresh_from_db()
    failed.refresh_from_db()
    assert served.status == Job.Status.SUCCEEDED, served.error
    result = Result.objects.get(job=served)
    assert result.energy_measured and "Jetson ina3221, rails VDD_IN" in result.energy_method
    assert result.provenance["transport"] == "ssh"
    assert failed.status == Job.Status.FAILED and "does not answer over SSH" in failed.error
    assert not Device.objects.get(pk=gone.pk).online and Device.objects.get(pk=board.pk).online


def _call(call_command, *args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
