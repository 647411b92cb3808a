"""The ``local`` driver: LiteRT on this host, one child process per measurement.

The child (``device_runner.drivers.child``) loads and times the model and
prints one JSON document. Running it apart means a model that crashes the
interpreter (a segfault in a kernel) kills only the child, reported here as a
``DriverError`` with the signal and the end of its stderr, and the peak
memory it reports is that run's alone, not the runner's.

Device settings read (all optional): ``python`` (interpreter for the child,
default this one), ``timeout_seconds`` (default 120 s plus three times the
protocol's time cap), ``rapl_root`` (powercap directory), ``op_breakdown``
(default true), ``seed`` (input seed, default 0), ``delegate`` (recorded in
the provenance, default ``"none"``), ``env`` (extra environment variables).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

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
from measurements.power.rapl import DEFAULT_ROOT, RaplSampler
from measurements.protocol import ProtocolConfig

# The directory holding device_runner/ and measurements/, put on the child's path.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHILD_MODULE = "device_runner.drivers.child"
STDERR_TAIL_CHARS = 2000
HEALTH_TIMEOUT_SECONDS = 60


def _tail(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = (text or "").strip()
    return text[-STDERR_TAIL_CHARS:] if text else "(empty)"


@register_driver("local")
class LocalDriver(Driver):
    """LiteRT on the runner's own CPU, measured in a child process."""

    @property
    def python(self) -> str:
        return str(self.settings.get("python") or sys.executable)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")
        env.update({k: str(v) for k, v in (self.settings.get("env") or {}).items()})
        return env

    def prepare(self, artifact_path: str | Path) -> PreparedArtifact:
        """Check the file and hash it; a local artifact is run where it is."""
        path = Path(artifact_path)
        if not path.is_file():
            raise DriverError(f"Artifact {path} does not exist or is not a file")
        sha256, size = file_identity(path)
        resolved = str(path.resolve())
        return PreparedArtifact(resolved, resolved, sha256, size)

    def measure(
        self, prepared: PreparedArtifact, num_threads: int, protocol: ProtocolConfig
    ) -> MeasurementResult:
        """Measure in a child process; raises ``DriverError`` naming any failure."""
        check_threads(num_threads)
        args = {
            "model_path": prepared.device_path,
            "num_threads": num_threads,
            "protocol": protocol.get_config(),
            "seed": int(self.settings.get("seed", 0)),
            "delegate": str(self.settings.get("delegate", "none")),
            "artifact_sha256": prepared.sha256,
            "rapl_root": str(self.settings.get("rapl_root", DEFAULT_ROOT)),
            "op_breakdown": bool(self.settings.get("op_breakdown", True)),
        }
        timeout = float(self.settings.get("timeout_seconds", 120 + 3 * protocol.max_seconds))
        command = [self.python, "-m", CHILD_MODULE, json.dumps(args)]
        what = f"LiteRT child measuring {prepared.local_path}"
        try:
            proc = subprocess.run(
                command, capture_output=True, timeout=timeout, env=self._env(), cwd=PROJECT_ROOT
            )
        except subprocess.TimeoutExpired as exc:
            raise DriverError(
                f"The {what} was killed after the {timeout:g} s timeout; "
                f"stderr tail:\n{_tail(exc.stderr)}"
            ) from None
        except OSError as exc:
            raise DriverError(f"Cannot start {what} with {self.python}: {exc}") from exc
        return _parse_child(proc, what)

    def health_check(self) -> HealthReport:
        """Check the child's Python can import LiteRT, and whether RAPL is readable."""
        messages: list[str] = []
        probe = "import importlib.metadata as m; print(m.version('ai-edge-litert'))"
        runtime = None
        try:
            proc = subprocess.run(
                [self.python, "-c", f"import ai_edge_litert.interpreter; {probe}"],
                capture_output=True,
                text=True,
                timeout=HEALTH_TIMEOUT_SECONDS,
            )
            if proc.returncode == 0:
                runtime = f"ai_edge_litert {proc.stdout.strip()}"
            else:
                messages.append(f"{self.python} cannot import LiteRT: {_tail(proc.stderr)}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            messages.append(f"Cannot run {self.python}: {exc}")
        sampler = RaplSampler(root=self.settings.get("rapl_root", DEFAULT_ROOT))
        reason = sampler.unavailable_reason()
        if reason is not None:
            messages.append(f"{reason}; energy will be estimated (AdaDeep eq. 5)")
        if runtime is not None:
            messages.append(f"{runtime} runs on {os.cpu_count()} CPUs")
        return HealthReport(
            ok=runtime is not None,
            reachable=True,
            runtime=runtime,
            sensor=sampler.name if reason is None else None,
            messages=messages,
        )

    def cleanup(self) -> None:
        """Nothing to remove: a local artifact is measured in place."""


def _parse_child(proc: subprocess.CompletedProcess[bytes], what: str) -> MeasurementResult:
    """The child's JSON document, or a ``DriverError`` saying how the child failed."""
    stderr = _tail(proc.stderr)
    code = proc.returncode
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        raise DriverError(
            f"The {what} was killed by {name} (exit code {code}); stderr tail:\n{stderr}"
        )
    try:
        document = json.loads(proc.stdout.decode("utf-8", "replace"))
    except ValueError:
        head = proc.stdout[:200].decode("utf-8", "replace")
        raise DriverError(
            f"The {what} exited with code {code} without a JSON document (stdout began {head!r}); "
            f"stderr tail:\n{stderr}"
        ) from None
    if not isinstance(document, dict):
        raise DriverError(f"The {what} printed JSON that is not an object: {str(document)[:200]}")
    if "error" in document:
        raise DriverError(f"The {what} failed: {document['error']}")
    if code != 0:
        raise DriverError(f"The {what} exited with code {code}; stderr tail:\n{stderr}")
    return document  # type: ignore[return-value]
