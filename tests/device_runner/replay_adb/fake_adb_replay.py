#!/usr/bin/env python3
"""FAKE adb for tests: replays recorded benchmark_model transcripts; it is not adb.

Answers the few ``adb -s SERIAL …`` commands the adb driver sends, as a phone
would, from files next to this script:

* ``devices``: ``List of devices attached`` and one ``SERIAL<TAB>STATE`` line
  per entry of ``FAKE_ADB_DEVICES`` (``"SERIAL:state,…"``; state is
  ``device``, ``unauthorized`` or ``offline``). With ``-s`` and a serial that
  is missing or not in state ``device``, every command fails with adb's own
  message for that case.
* ``push LOCAL REMOTE``: copies into a fake device file system under
  ``$FAKE_ADB_STATE/fs``.
* ``shell chmod MODE PATH`` / ``shell rm -f PATH…`` / ``shell cat …current_now
  …voltage_now``: on that file system; the battery values come from
  ``transcripts/$FAKE_ADB_BATTERY`` (``idle_…`` while no benchmark runs,
  ``run_…`` while one does).
* ``shell [taskset MASK] BINARY --graph=… …``: checks the pushed binary is
  executable and the graph exists, then prints ``transcripts/$FAKE_ADB_TRANSCRIPT``
  after its ``# `` header, taking ``replay-seconds`` and exiting with ``exit-code``.

Every invocation is appended to ``$FAKE_ADB_STATE/commands.log`` as JSON.
Standard library only.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRANSCRIPTS = HERE / "transcripts"
# adb's own client messages for a device it cannot use.
STATE_ERRORS = {
    "unauthorized": (
        "adb: device unauthorized.\n"
        "This adb server's $ADB_VENDOR_KEYS is not set\n"
        "Try 'adb kill-server' if that seems wrong.\n"
        "Otherwise check for a confirmation dialog on your device."
    ),
    "offline": "adb: device offline",
}


def read_transcript(path: Path) -> tuple[dict[str, str], str]:
    """Header fields (``# key: value`` lines at the top) and the body of a transcript."""
    lines = path.read_text().splitlines(keepends=True)
    header: dict[str, str] = {}
    index = 0
    while index < len(lines) and lines[index].startswith("# "):
        key, sep, value = lines[index][2:].partition(":")
        if sep and key.strip() in ("exit-code", "replay-seconds"):
            header[key.strip()] = value.strip()
        index += 1
    return header, "".join(lines[index:])


def read_battery(path: Path) -> dict[str, int]:
    """``name=value`` lines of a battery file (comments skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = int(value)
    return values


def device_path(state: Path, remote: str) -> Path:
    return state / "fs" / remote.lstrip("/")


def devices() -> dict[str, str]:
    entries = [e for e in os.environ.get("FAKE_ADB_DEVICES", "").split(",") if e]
    return dict(entry.split(":", 1) for entry in entries)


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def push(state: Path, local: str, remote: str) -> int:
    source = Path(local)
    if not source.is_file():
        return fail(f"adb: error: cannot stat '{local}': No such file or directory")
    target = device_path(state, remote)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    size = source.stat().st_size
    print(f"{local}: 1 file pushed, 0 skipped. 10.0 MB/s ({size} bytes in 0.001s)")
    return 0


def run_benchmark(state: Path, words: list[str]) -> int:
    if words[0] == "taskset":
        words = words[2:]
    binary = device_path(state, words[0])
    if not binary.is_file():
        return fail(f"/system/bin/sh: {words[0]}: not found", 127)
    if not os.access(binary, os.X_OK):
        return fail(f"/system/bin/sh: {words[0]}: can't execute: Permission denied", 126)
    graph = next(w.split("=", 1)[1] for w in words if w.startswith("--graph="))
    if not device_path(state, graph).is_file():
        print(f"ERROR: Model file doesn't exist: {graph}")
        return fail("ERROR: Benchmarking failed.")
    name = os.environ.get("FAKE_ADB_TRANSCRIPT", "tc2_xnnpack_no_start_column.txt")
    header, body = read_transcript(TRANSCRIPTS / name)
    marker = state / "running"
    marker.touch()
    try:
        time.sleep(float(header.get("replay-seconds", "0")))
        wait_for_a_power_reading(state)
        sys.stdout.write(body)
    finally:
        marker.unlink()
    return int(header.get("exit-code", "0"))


def wait_for_a_power_reading(state: Path, limit_s: float = 10.0) -> None:
    """With FAKE_ADB_WAIT_FOR_POWER_READING set, run on until the battery was read mid-run.

    Each reading is an ``adb shell cat`` (a process); on a loaded host the first may
    come after a short replay has ended, so a test of the power figures would see
    only idle readings. A real run is long enough; the replay waits instead.
    """
    if not os.environ.get("FAKE_ADB_WAIT_FOR_POWER_READING"):
        return
    deadline = time.monotonic() + limit_s
    while not (state / "read-while-running").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def shell(state: Path, command: str) -> int:
    words = shlex.split(command)
    if words[0] == "chmod":
        target = device_path(state, words[2])
        if not target.exists():
            return fail(f"chmod: {words[2]}: No such file or directory")
        target.chmod(int(words[1], 8))
        return 0
    if words[0] == "rm":
        for word in words[1:]:
            if not word.startswith("-"):
                device_path(state, word).unlink(missing_ok=True)
        return 0
    if words[0] == "cat" and all(w.endswith(("current_now", "voltage_now")) for w in words[1:]):
        name = os.environ.get("FAKE_ADB_BATTERY", "battery_discharging.txt")
        if name == "missing":
            return fail(f"cat: {words[1]}: No such file or directory")
        values = read_battery(TRANSCRIPTS / name)
        phase = "run" if (state / "running").exists() else "idle"
        if phase == "run":
            (state / "read-while-running").touch()
        print(values[f"{phase}_current_now"])
        print(values["voltage_now"])
        return 0
    if any(w.startswith("--graph=") for w in words):
        return run_benchmark(state, words)
    return fail(f"/system/bin/sh: {words[0]}: not found", 127)


def main(argv: list[str]) -> int:
    state = Path(os.environ["FAKE_ADB_STATE"])
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "commands.log", "a") as log:
        log.write(json.dumps(argv) + "\n")
    serial = None
    if argv[:1] == ["-s"]:
        serial, argv = argv[1], argv[2:]
    known = devices()
    if argv[0] == "devices":
        print("List of devices attached")
        for name, status in known.items():
            print(f"{name}\t{status}")
        print()
        return 0
    if serial is not None and serial not in known:
        return fail(f"adb: device '{serial}' not found")
    if serial is not None and known[serial] != "device":
        return fail(STATE_ERRORS.get(known[serial], f"adb: device {known[serial]}"))
    if argv[0] == "push":
        return push(state, argv[1], argv[2])
    if argv[0] == "shell":
        return shell(state, " ".join(argv[1:]))
    return fail(f"fake adb replay: unsupported command {argv!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
