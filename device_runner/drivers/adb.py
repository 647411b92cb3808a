"""The ``adb`` driver: an Android phone running the user's ``benchmark_model``.

``prepare`` pushes the ``.tflite`` and the ``benchmark_model`` binary (built
for the phone by the user; its host path is a device setting) to
``/data/local/tmp`` and makes the binary executable; ``measure`` runs it with
``--enable_op_profiling=true`` while a thread samples the battery's
``current_now`` x ``voltage_now``, and parses its output
(``benchmark_model_output``) into the same figures as the local driver.

Differences from the local driver, stated on every Result: the runs are
``benchmark_model``'s own fixed count (``--num_runs`` and ``--min_secs``), so
the CI stop rule is not applied (``stop_reason`` ``"fixed_runs"``, ``stable``
from the coefficient of variation alone); memory is the tool's footprint
delta from its own start; accuracy stays evaluated on the host through the
same ``.tflite``.

Device settings (``benchmark_binary`` required; ``serial``, else the Device's
address, names the phone): ``adb``
(path of the adb CLI, default ``"adb"``), ``remote_dir`` (``/data/local/tmp``),
``use_gpu`` (bool), ``use_xnnpack`` (bool, or absent to leave the tool's
default), ``taskset`` (hex CPU mask such as ``"f0"`` for the big cores),
``num_runs``, ``min_secs``, ``power`` (default true), ``battery_dir``,
``current_scale`` / ``current_sign`` / ``voltage_scale`` (see
``measurements.power.android``), ``battery_hz`` (default 5), and timeouts in
seconds: ``adb_timeout_seconds`` (30), ``push_timeout_seconds`` (300),
``run_timeout_seconds`` (120 + 3 x the protocol's time cap).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from device_runner.drivers import adb_support
from device_runner.drivers.adb_support import AdbSettings, check_binary
from device_runner.drivers.base import (
    Driver,
    DriverError,
    HealthReport,
    MeasurementResult,
    PreparedArtifact,
    check_threads,
    file_identity,
    register_driver,
)
from device_runner.drivers.benchmark_model_output import BenchmarkOutput, parse_output
from measurements.power.android import USB_WARNING, AndroidBatterySampler
from measurements.power.base import PowerSamplerError
from measurements.protocol import ProtocolConfig

TAIL_CHARS = 2000
# adb client messages meaning the phone itself cannot be used (not the model's fault).
_OFFLINE = re.compile(
    r"unauthorized|device offline|device '[^']*' not found|no devices/emulators found|"
    r"device still authorizing|device not found|cannot connect|error: closed",
    re.IGNORECASE,
)


def _tail(text: str) -> str:
    text = (text or "").strip()
    return text[-TAIL_CHARS:] if text else "(empty)"


@register_driver("adb")
class AdbDriver(Driver):
    """An Android phone over adb, measured with the user's ``benchmark_model``."""

    def __init__(self, device_settings: dict[str, Any] | None = None) -> None:
        super().__init__(device_settings)
        self.config = AdbSettings.from_settings(self.settings)
        self._pushed: list[str] = []

    # --- adb plumbing ---------------------------------------------------------------------

    def _run(
        self, args: list[str], timeout: float, serial: bool = True
    ) -> subprocess.CompletedProcess:
        """One adb call; a timeout or a missing adb is a ``DriverError`` (device offline)."""
        command = [self.config.adb, *(["-s", self.config.serial] if serial else []), *args]
        what = shlex.join(command[:6]) + (" …" if len(command) > 6 else "")
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DriverError(
                f"`{what}` did not answer within {timeout:g} s: the phone "
                f"{self.config.serial} may be asleep, disconnected or hung",
                device_offline=True,
            ) from None
        except OSError as exc:
            raise DriverError(
                f"Cannot run adb at {self.config.adb!r} ({exc.strerror or exc}): install the "
                "Android platform tools or set the device's `adb` setting to the adb binary",
                device_offline=True,
            ) from exc

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> str:
        """stdout of a finished adb call, or a ``DriverError`` saying why it failed."""
        output = f"{proc.stderr}\n{proc.stdout}"
        if proc.returncode != 0 and _OFFLINE.search(output):
            raise DriverError(self._offline_message(output), device_offline=True)
        if proc.returncode != 0:
            raise DriverError(
                f"{what} failed on phone {self.config.serial} (exit code {proc.returncode}): "
                f"{_tail(output)}"
            )
        return proc.stdout

    def _adb(self, args: list[str], what: str, timeout: float | None = None) -> str:
        proc = self._run(args, timeout or self.config.adb_timeout_seconds)
        return self._check(proc, what)

    def _offline_message(self, output: str) -> str:
        serial = self.config.serial
        state = self.device_state()
        return adb_support.state_message(serial, state, _tail(output))

    def device_state(self) -> str | None:
        """The phone's state in ``adb devices`` (``device``, ``unauthorized``…), or None."""
        proc = self._run(["devices"], self.config.adb_timeout_seconds, serial=False)
        for line in proc.stdout.splitlines()[1:]:
            name, _, state = line.partition("\t")
            if name.strip() == self.config.serial:
                return state.strip()
        return None

    def _require_device(self) -> None:
        state = self.device_state()
        if state != "device":
            raise DriverError(
                adb_support.state_message(self.config.serial, state), device_offline=True
            )

    # --- Driver interface -----------------------------------------------------------------

    def prepare(self, artifact_path: str | Path) -> PreparedArtifact:
        """Push the model and ``benchmark_model`` to the phone; make the binary executable."""
        binary = check_binary(self.config.benchmark_binary)
        path = Path(artifact_path)
        if not path.is_file():
            raise DriverError(f"Artifact {path} does not exist or is not a file")
        sha256, size = file_identity(path)
        self._require_device()
        model_remote = f"{self.config.remote_dir}/compresso_{sha256[:16]}.tflite"
        push_timeout = self.config.push_timeout_seconds
        for local, remote in ((path, model_remote), (binary, self.config.binary_remote)):
            self._pushed.append(remote)
            self._adb(["push", str(local), remote], f"Pushing {local.name}", push_timeout)
        self._adb(
            ["shell", f"chmod 755 {shlex.quote(self.config.binary_remote)}"],
            "Making benchmark_model executable",
        )
        return PreparedArtifact(str(path.resolve()), model_remote, sha256, size)

    def measure(
        self, prepared: PreparedArtifact, num_threads: int, protocol: ProtocolConfig
    ) -> MeasurementResult:
        """Run ``benchmark_model`` once, sampling battery power meanwhile."""
        check_threads(num_threads)
        command = self.config.command(prepared.device_path, num_threads, protocol)
        timeout = self.config.run_timeout_seconds or 120 + 3 * protocol.max_seconds
        sampler, energy_reason = self._sampler(protocol)
        idle = None
        if sampler is not None:
            sampler.start()
            idle_start = time.perf_counter()
            time.sleep(protocol.idle_seconds)  # idle power just before the run (seed 001)
            idle = (idle_start, time.perf_counter()) if protocol.idle_seconds > 0 else None
            # One sampling period of margin: a reading in flight must not catch the run.
            time.sleep(1.0 / sampler.sample_hz)
        start = time.perf_counter()
        try:
            proc = self._run(["shell", command], timeout)
        finally:
            end = time.perf_counter()
            samples = _stop(sampler)
        parsed = self._parsed(proc, command)
        result = adb_support.build_result(parsed, self.config, protocol, num_threads, prepared)
        result["provenance"]["command"] = command
        result["provenance"]["binary_sha256"] = _sha256(self.config.benchmark_binary)
        if isinstance(samples, str):  # sampling failed: say why
            energy_reason = samples
        elif samples is not None:
            result.update(
                adb_support.energy_fields(samples, idle, (start, end), result, self.config)
            )
        if result.get("energy") is None:
            result["energy_reason"] = energy_reason
        return result

    def _sampler(self, protocol: ProtocolConfig) -> tuple[AndroidBatterySampler | None, str]:
        if not self.config.power:
            return None, "not measured: the device's power setting is off"
        sampler = AndroidBatterySampler(
            self._read_battery,
            self.config.current_scale,
            self.config.current_sign,
            self.config.voltage_scale,
            sample_hz=min(protocol.sample_hz, self.config.battery_hz),
        )
        reason = sampler.unavailable_reason()
        if reason is not None:
            return None, f"not measured: {reason}"
        return sampler, ""

    def _read_battery(self) -> str:
        files = " ".join(
            shlex.quote(f"{self.config.battery_dir}/{name}") for name in adb_support.BATTERY_FILES
        )
        return self._adb(["shell", f"cat {files}"], "Reading the battery current and voltage")

    def _parsed(self, proc: subprocess.CompletedProcess, command: str) -> BenchmarkOutput:
        output = f"{proc.stdout}\n{proc.stderr}"
        if proc.returncode != 0 and _OFFLINE.search(proc.stderr or ""):
            raise DriverError(self._offline_message(proc.stderr), device_offline=True)
        parsed = parse_output(output)
        if proc.returncode != 0 or parsed.runs is None or parsed.runs.avg_us is None:
            errors = "; ".join(parsed.errors) or "no error line"
            raise DriverError(
                f"benchmark_model failed on phone {self.config.serial} (exit code "
                f"{proc.returncode}; {errors}). Command: {command}\nOutput tail:\n{_tail(output)}"
            )
        return parsed

    def health_check(self) -> HealthReport:
        """adb reachable, phone authorised, binary executable, battery files readable."""
        messages: list[str] = []
        try:
            state = self.device_state()
        except DriverError as exc:
            return HealthReport(False, False, None, None, [str(exc)])
        reachable = state == "device"
        if not reachable:
            messages.append(adb_support.state_message(self.config.serial, state))
        runtime = None
        try:
            binary = check_binary(self.config.benchmark_binary)
            runtime = f"benchmark_model {binary} (sha256 {_sha256(binary)[:12]})"
        except DriverError as exc:
            messages.append(str(exc))
        sensor = None
        if reachable and self.config.power:
            sampler, reason = self._sampler(ProtocolConfig())
            if sampler is None:
                messages.append(f"Battery power {reason}; energy will be estimated instead")
            else:
                sensor = f"{sampler.name} ({self.config.battery_dir})"
                messages.append(USB_WARNING)
        if reachable and runtime:
            messages.append(f"Phone {self.config.serial} is connected and authorised; {runtime}")
        return HealthReport(reachable and runtime is not None, reachable, runtime, sensor, messages)

    def cleanup(self) -> None:
        """Remove what ``prepare`` pushed (idempotent; a vanished phone is not an error)."""
        pushed, self._pushed = self._pushed, []
        if not pushed:
            return
        # A phone that went away keeps its files: nothing more can be removed now.
        with contextlib.suppress(DriverError):
            self._adb(["shell", "rm -f " + shlex.join(pushed)], "Removing pushed files")


def _stop(sampler: AndroidBatterySampler | None) -> list[tuple[float, float]] | str | None:
    """The sampler's samples, or the reason sampling failed, or None without a sampler."""
    if sampler is None:
        return None
    try:
        return sampler.stop()
    except PowerSamplerError as exc:
        return f"not measured: {exc}"


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
