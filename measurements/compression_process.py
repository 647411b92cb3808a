"""Run ``measurements.compression_child`` and wait for it, able to stop it at any moment.

The runner's main thread waits here while TensorFlow works in the child;
between polls it calls ``check``, which renews the artifact's lease and
raises when the runner must stop. Whatever ``check`` raises terminates the
child (SIGTERM, then SIGKILL after a grace period) and propagates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

# The directory holding measurements/ and compression/, put on the child's path.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHILD_MODULE = "measurements.compression_child"
TERMINATE_GRACE_SECONDS = 3.0
STDERR_TAIL_CHARS = 2000


class CompressionChildError(RuntimeError):
    """The compression child failed; the message says how, with its stderr's end."""


def run_compression_child(
    args: dict[str, Any], check: Callable[[], None], poll_seconds: float = 0.2
) -> dict[str, Any]:
    """Compress in a child process; call ``check`` between polls.

    Args:
        args: the child's arguments (see ``measurements.compression_child``).
        check: raises to stop the compression; the child is then terminated.
        poll_seconds: how often ``check`` runs while the child works.

    Returns:
        The child's JSON document.

    Raises:
        CompressionChildError: the child failed, was killed, or printed no document.
        Exception: whatever ``check`` raised.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE, json.dumps(args)],
            stdin=subprocess.PIPE,  # held open: end-of-file tells the child its parent died
            stdout=stdout,
            stderr=stderr,
            cwd=PROJECT_ROOT,
            env=env,
            start_new_session=True,  # a terminal's Ctrl-C reaches the runner, which decides
        )
        try:
            while proc.poll() is None:
                check()
                time.sleep(poll_seconds)
            check()  # a stop that came while the child was ending still counts
        except BaseException:
            _terminate(proc)
            raise
        finally:
            proc.stdin.close()
        return _document(proc.returncode, _read(stdout), _read(stderr))


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=TERMINATE_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def _document(code: int, stdout: str, stderr: str) -> dict[str, Any]:
    tail = stderr.strip()[-STDERR_TAIL_CHARS:] or "(empty)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        raise CompressionChildError(f"The compression child was killed by {name}; stderr:\n{tail}")
    try:
        document = json.loads(stdout)
    except ValueError:
        raise CompressionChildError(
            f"The compression child exited with code {code} without a JSON document; "
            f"stderr:\n{tail}"
        ) from None
    if not isinstance(document, dict):
        raise CompressionChildError(f"The compression child printed {stdout[:200]!r}")
    if "error" in document:
        raise CompressionChildError(document["error"])
    return document
