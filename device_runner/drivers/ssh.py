"""The ``ssh`` driver: a Jetson or any Linux board, measured by an agent copied to it.

It uses the system ``ssh``/``scp`` with key authentication and never trusts a
new host key silently. ``prepare`` copies the stdlib-only agent
(``device_runner/agent/``) and the ``.tflite`` into a fresh run
directory under ``work_dir``; ``measure`` runs the agent with the board's
Python and reads back one JSON document shaped like the local driver's;
``cleanup`` removes that run directory. Every remote call has a timeout.

Device settings read (``address`` is ``user@host``, filled in from the Device):
``user``, ``host``, ``port`` (22), ``key_path``, ``known_hosts`` (default
ssh's own), ``host_key_policy`` (``"yes"``, the default: only keys already
in known_hosts; ``"accept-new"``: trust a first-seen key, still refuse a
changed one), ``ssh_config`` (passed as ``-F``), ``python`` (remote interpreter,
default ``python3``), ``work_dir`` (default ``.compresso``, relative to the
remote home), ``sensor`` (``ina3221`` | ``hwmon`` | ``tegrastats`` | ``none``;
``power_sensor`` is read when ``sensor`` is absent), ``rail`` (``"VDD_IN"`` or a
list such as ``["VDD_SYS_CPU", "VDD_SYS_GPU", "VDD_SYS_DDR"]``), ``power_root``
(sysfs root, default ``/sys``), ``tegrastats`` (its path), ``jetson_clocks``
(bool), ``seed``, ``delegate``, and the timeouts ``connect_timeout`` (10 s),
``command_timeout`` (60 s), ``copy_timeout`` (300 s) and ``timeout_seconds``
(measurement; default 120 s plus three times the protocol's time cap).
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

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
from device_runner.drivers.settings_schema import USER, is_host
from measurements.protocol import ProtocolConfig

AGENT_DIR = Path(__file__).resolve().parents[1] / "agent"
AGENT_FILES = [str(AGENT_DIR / name) for name in ("measure.py", "timing.py", "rails.py")]
SENSORS = ("ina3221", "hwmon", "tegrastats", "none")
HOST_KEY_POLICIES = ("yes", "accept-new")
SSH_FAILED = 255  # ssh's own exit status; anything else is the remote command's
TAIL = 1500
# ssh's stderr when the host itself did not answer (the device is offline).
_UNREACHABLE = (
    "Connection refused",
    "Connection timed out",
    "Operation timed out",
    "No route to host",
    "Network is unreachable",
    "Could not resolve hostname",
    "Connection closed by",
    "Connection reset",
    "kex_exchange_identification",
    "Timeout, server",
    "Broken pipe",
)
REMOTE_TIMEOUT_EXIT = 124  # coreutils timeout(1): the command ran out of time
LOCAL_MARGIN_S = 30  # the local timeout waits this much longer than the board's own


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return (data or "").strip()


@register_driver("ssh")
class SshDriver(Driver):
    """A Linux board (Jetson TX2/Nano/Xavier/Orin, Raspberry Pi…) reached over SSH."""

    def __init__(self, device_settings: dict[str, Any] | None = None) -> None:
        super().__init__(device_settings)
        s = self.settings
        user, _, host = str(s.get("address") or s.get("host") or "").rpartition("@")
        self.host = host or str(s.get("host") or "")
        self.user = str(s.get("user") or user or "")
        self.port = int(s.get("port") or 22)
        self.python = str(s.get("python") or "python3")
        self.work_dir = str(s.get("work_dir") or ".compresso").rstrip("/") or "/"
        self.sensor = str(s.get("sensor") or s.get("power_sensor") or "none")
        self.policy = str(s.get("host_key_policy") or "yes")
        self.run_dir: str | None = None
        if not self.host:
            raise DriverError("The ssh device has no address: set it to user@host")
        if not is_host(self.host) or (self.user and not USER.fullmatch(self.user)):
            # Never let an address reach ssh's argv where it could be read as an option.
            raise DriverError(f"The ssh address is not user@host. Received: {self.target!r}")
        if self.sensor not in SENSORS:
            raise DriverError(
                f"Unknown power sensor {self.sensor!r} for an ssh device; use one of "
                f"{', '.join(SENSORS)}"
            )
        if self.policy not in HOST_KEY_POLICIES:
            raise DriverError(
                f"host_key_policy must be 'yes' or 'accept-new' (new keys are never trusted "
                f"silently). Received: host_key_policy={self.policy!r}"
            )

    # -- plumbing ---------------------------------------------------------------

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def where(self) -> str:
        return f"{self.target}:{self.port}"

    def _timeout(self, key: str, default: float) -> float:
        return float(self.settings.get(key) or default)

    def _options(self) -> list[str]:
        s = self.settings
        opts = ["-o", "BatchMode=yes", "-o", f"StrictHostKeyChecking={self.policy}"]
        opts += ["-o", f"ConnectTimeout={int(self._timeout('connect_timeout', 10))}"]
        opts += ["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]
        if s.get("ssh_config"):
            opts = ["-F", str(s["ssh_config"]), *opts]
        if s.get("key_path"):
            opts += ["-i", str(s["key_path"]), "-o", "IdentitiesOnly=yes"]
        if s.get("known_hosts"):
            opts += ["-o", f"UserKnownHostsFile={s['known_hosts']}"]
        return opts

    def _check_key(self) -> None:
        key = self.settings.get("key_path")
        if key and not Path(key).is_file():
            raise DriverError(f"The SSH key {key} set for {self.where} does not exist")

    def _run(self, argv: list[str], what: str, timeout: float, stdin: bytes = b"") -> Any:
        """Run ssh/scp; a timeout or ssh's own failure becomes a plain ``DriverError``.

        A local timeout means the board stopped answering (the board-side
        timeout of a measurement fires first), so the device counts as offline.
        """
        self._check_key()
        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DriverError(
                f"{self.where} did not finish {what} within {timeout:g} s (timeout); "
                "the board may be down, overloaded or the network too slow",
                device_offline=True,
            ) from None
        except OSError as exc:
            raise DriverError(f"Cannot run {argv[0]}: {exc}; install OpenSSH's client") from exc
        if proc.returncode == SSH_FAILED or (argv[0].endswith("scp") and proc.returncode):
            raise self._ssh_error(_text(proc.stderr), what)
        return proc

    def _ssh(self, command: str, what: str, timeout: float, stdin: bytes = b"") -> Any:
        argv = ["ssh", "-p", str(self.port), *self._options(), self.target, command]
        return self._run(argv, what, timeout, stdin)

    def _scp(self, sources: list[str], remote_dir: str, what: str) -> None:
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6, scp's syntax
        dest = f"{self.user}@{host}:{remote_dir}/" if self.user else f"{host}:{remote_dir}/"
        argv = ["scp", "-q", "-P", str(self.port), *self._options(), *sources, dest]
        self._run(argv, what, self._timeout("copy_timeout", 300))

    def _ssh_error(self, stderr: str, what: str) -> DriverError:
        """A plain-language error from ssh's stderr (unreachable, host key, refused key)."""
        known = self.settings.get("known_hosts") or "~/.ssh/known_hosts"
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
            return DriverError(
                f"The host key of {self.where} has CHANGED since it was recorded in {known}: "
                "refused (this is what a man-in-the-middle looks like; if the board was "
                "reinstalled, remove the old line with ssh-keygen -R and add the new key)",
                device_offline=True,
            )
        if "Host key verification failed" in stderr or "host key is known" in stderr:
            keyscan = f"ssh-keyscan -p {self.port} {self.host} >> {known}"
            return DriverError(
                f"The host key of {self.where} is not in {known}, and the host-key policy is "
                f"strict, so the connection was refused. To trust it, compare the board's key "
                f"fingerprint (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the board) "
                f"with `ssh-keyscan -p {self.port} {self.host} | ssh-keygen -lf -`, then run "
                f"`{keyscan}`; or set the device setting host_key_policy to 'accept-new'",
                device_offline=True,
            )
        if "Permission denied" in stderr:
            key = self.settings.get("key_path") or "ssh's default keys"
            return DriverError(
                f"{self.where} refused the SSH key ({key}): add its public key to "
                f"~{self.user}/.ssh/authorized_keys on the board. ssh said: {stderr[-300:]}",
                device_offline=True,
            )
        if any(marker in stderr for marker in _UNREACHABLE):
            return DriverError(
                f"{self.where} does not answer over SSH (is it powered, on the network, and "
                f"is the port right?). ssh said: {stderr[-300:]}",
                device_offline=True,
            )
        return DriverError(f"SSH to {self.where} failed while {what}: {stderr[-TAIL:]}")

    def _agent(
        self, run_dir: str, flags: str, args: dict[str, Any], what: str, timeout: float
    ) -> dict[str, Any]:
        """Run the agent with the remote Python; its JSON document, or a plain DriverError."""
        agent = f"{shlex.quote(self.python)} {shlex.quote(run_dir + '/measure.py')}{flags}"
        # The board kills the agent itself at the timeout (coreutils timeout when
        # present), so a hung model does not keep running after ssh gives up.
        command = (
            f"if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {int(timeout)} "
            f"{agent}; else exec {agent}; fi"
        )
        stdin = json.dumps(args).encode()
        proc = self._ssh(command, what, timeout + LOCAL_MARGIN_S, stdin)
        stderr = _text(proc.stderr)[-TAIL:] or "(empty)"
        if proc.returncode == REMOTE_TIMEOUT_EXIT or proc.returncode == 128 + 9:
            raise DriverError(
                f"The agent on {self.where} was stopped on the board after the {int(timeout)} s "
                f"timeout while {what}; raise the device setting timeout_seconds if the model "
                "is just slow"
            )
        if proc.returncode == 127:
            raise DriverError(
                f"The remote Python {self.python!r} was not found on {self.where}: set the "
                f"device setting 'python' to its path. Shell said: {stderr}",
                device_offline=True,
            )
        try:
            document = json.loads(_text(proc.stdout))
        except ValueError:
            raise DriverError(
                f"The agent on {self.where} exited with code {proc.returncode}"
                f"{_signal_note(proc.returncode)} without a JSON "
                f"document (stdout began {_text(proc.stdout)[:200]!r}); stderr tail:\n{stderr}"
            ) from None
        if not isinstance(document, dict):
            raise DriverError(f"The agent on {self.where} printed JSON that is not an object")
        if document.get("error_kind") == "runtime_missing":
            raise DriverError(
                f"No TFLite runtime on {self.where}: {document['error']}", device_offline=True
            )
        if "error" in document:
            raise DriverError(f"The agent on {self.where} failed {what}: {document['error']}")
        return document

    def _agent_args(self) -> dict[str, Any]:
        s = self.settings
        return {
            "sensor": self.sensor,
            "power_root": str(s.get("power_root") or "/sys"),
            "rail": s.get("rail"),
            "tegrastats": str(s.get("tegrastats") or "tegrastats"),
        }

    def _new_run_dir(self, prefix: str) -> str:
        run_dir = f"{self.work_dir}/{prefix}-{uuid.uuid4().hex[:12]}"
        self._command(f"mkdir -p {shlex.quote(run_dir)}", f"creating {run_dir}")
        return run_dir

    def _remove(self, run_dir: str) -> None:
        self._command(f"rm -rf {shlex.quote(run_dir)}", f"removing {run_dir}")

    def _command(self, command: str, what: str) -> None:
        proc = self._ssh(command, what, self._timeout("command_timeout", 60))
        if proc.returncode != 0:
            raise DriverError(
                f"{self.where} failed {what} (exit {proc.returncode}): "
                f"{_text(proc.stderr)[-TAIL:] or '(no message)'}"
            )

    # -- the Driver interface ------------------------------------------------------

    def prepare(self, artifact_path: str | Path) -> PreparedArtifact:
        """Copy the agent and the artifact into a fresh run directory on the board."""
        path = Path(artifact_path)
        if not path.is_file():
            raise DriverError(f"Artifact {path} does not exist or is not a file")
        sha256, size = file_identity(path)
        self.run_dir = self._new_run_dir("run")
        self._scp([*AGENT_FILES, str(path)], self.run_dir, "copying the agent and the model")
        remote = f"{self.run_dir}/{path.name}"
        return PreparedArtifact(str(path.resolve()), remote, sha256, size)

    def measure(
        self, prepared: PreparedArtifact, num_threads: int, protocol: ProtocolConfig
    ) -> MeasurementResult:
        """Run the agent on the board; raises ``DriverError`` naming any failure."""
        check_threads(num_threads)
        run_dir = prepared.device_path.rpartition("/")[0]
        args = {
            **self._agent_args(),
            "model_path": prepared.device_path,
            "num_threads": num_threads,
            "protocol": protocol.get_config(),
            "seed": int(self.settings.get("seed", 0)),
            "delegate": str(self.settings.get("delegate", "none")),
            "artifact_sha256": prepared.sha256,
            "jetson_clocks": bool(self.settings.get("jetson_clocks", False)),
        }
        default = 120 + 3 * protocol.max_seconds + protocol.idle_seconds
        timeout = self._timeout("timeout_seconds", default)
        document = self._agent(run_dir, "", args, f"measuring {prepared.local_path}", timeout)
        document["provenance"].update(device_address=self.where, transport="ssh")
        return document  # type: ignore[return-value]

    def health_check(self) -> HealthReport:
        """Reachability, runtime and power sensor, each found or explained in plain words."""
        report = HealthReport(ok=False, reachable=False, runtime=None, sensor=None)
        try:
            run_dir = self._new_run_dir("probe")
        except DriverError as exc:
            report.messages.append(str(exc))
            return report
        report.reachable = True
        report.messages.append(f"Reached {self.where} over SSH.")
        try:
            self._scp(AGENT_FILES, run_dir, "copying the agent")
            timeout = self._timeout("command_timeout", 60)
            probe = self._agent(run_dir, " --probe", self._agent_args(), "probing", timeout)
        except DriverError as exc:
            report.messages.insert(0, str(exc))
            return report
        finally:
            with contextlib.suppress(DriverError):  # the finding is already in the report
                self._remove(run_dir)
        return _probe_report(report, probe, self.sensor)

    def cleanup(self) -> None:
        """Remove the run directory ``prepare`` made (idempotent; errors are not fatal)."""
        if self.run_dir is None:
            return
        try:
            self._remove(self.run_dir)
        except DriverError:
            return  # an offline board keeps its directory; the next cleanup retries
        self.run_dir = None


def _signal_note(code: int) -> str:
    """Exit statuses above 128 are a signal on the board (139: SIGSEGV in a kernel)."""
    if code <= 128:
        return ""
    try:
        return f" (killed by {signal.Signals(code - 128).name})"
    except ValueError:
        return f" (killed by signal {code - 128})"


def _probe_report(report: HealthReport, probe: dict[str, Any], sensor: str) -> HealthReport:
    """Fill a health report from the agent's ``--probe`` document."""
    python = f"Python {probe.get('python')} ({probe.get('executable')})"
    if probe.get("runtime"):
        report.runtime = f"{probe['runtime']} {probe.get('runtime_version') or '(version unknown)'}"
        report.messages.append(f"Runtime found: {report.runtime} with {python}.")
    else:
        report.messages.insert(0, f"No TFLite runtime: {probe.get('runtime_error')}.")
    if probe.get("l4t_version"):
        report.messages.append(f"Jetson L4T {probe['l4t_version']}.")
    if sensor == "none":
        report.messages.append("No power sensor set: energy will be estimated, not measured.")
    elif probe.get("sensor"):
        report.sensor = sensor
        rails = "+".join(probe.get("rails") or [])
        report.messages.append(
            f"Power sensor {sensor} readable: {probe['watts']:.2f} W on rail(s) {rails}."
        )
    else:
        report.messages.insert(
            0, f"Power sensor {sensor} not readable: {probe.get('sensor_error')}."
        )
    report.ok = report.runtime is not None and (sensor == "none" or report.sensor is not None)
    return report
