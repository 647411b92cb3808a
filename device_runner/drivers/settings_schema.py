"""What a Device's address and settings may hold, per driver kind, checked before any driver runs.

Settings come from a request (the API or the dashboard), so nothing in them may
choose what the server executes or reads: an executable is the *name* of an
entry in the lab's allow-list (``DEVICE_EXECUTABLES``), a file on the server
must lie under the lab's device-files directory (``DEVICE_FILES_DIR``), and
addresses are parsed so that no value can start with ``-`` and be read as an
option by ssh or adb. ``resolve`` returns the settings a driver receives, with
names turned into the allow-listed paths. Plain Python: no Django import.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from measurements.device_kinds import KINDS

USER = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}")
HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"{HOST_LABEL}(?:\.{HOST_LABEL})*")
SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
# Paths on the board or phone: quoted by the drivers, but kept to plain characters anyway.
REMOTE_PATH = re.compile(r"[A-Za-z0-9_./~+][A-Za-z0-9_./~+-]{0,254}")
TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")
HEX_MASK = re.compile(r"(0x)?[0-9a-fA-F]{1,16}")
# Variables the local child may be given: thread pools and TensorFlow's own knobs only.
ENV_NAME = re.compile(r"(?:OMP|KMP|MKL|TF|XNNPACK|OPENBLAS)_[A-Z0-9_]{1,60}")
MAX_SECONDS = 7 * 24 * 3600


class DeviceSettingsError(ValueError):
    """A device's address or settings break the schema of its kind.

    Args:
        field: ``"address"`` or ``"settings"``.
        message: what is wrong, naming the key and the value received.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _fail(key: str, rule: str, value: Any) -> DeviceSettingsError:
    return DeviceSettingsError("settings", f"{key} must be {rule}. Received: {key}={value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(lowest: int, highest: int) -> Callable[[str, Any, Any], Any]:
    def check(key: str, value: Any, lab: Any) -> int:
        if not _is_int(value) or not lowest <= value <= highest:
            raise _fail(key, f"an integer from {lowest} to {highest}", value)
        return value

    return check


def seconds(key: str, value: Any, lab: Any) -> float:
    number = _is_int(value) or isinstance(value, float)
    if not number or not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise _fail(key, f"a positive number of at most {MAX_SECONDS}", value)
    return value


def positive(key: str, value: Any, lab: Any) -> float:
    number = _is_int(value) or isinstance(value, float)
    if not number or not math.isfinite(value) or value <= 0 or abs(value) > 1e12:
        raise _fail(key, "a positive number", value)
    return value


def flag(key: str, value: Any, lab: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, "true or false", value)
    return value


def choice(*options: Any) -> Callable[[str, Any, Any], Any]:
    def check(key: str, value: Any, lab: Any) -> Any:
        if isinstance(value, bool) or value not in options:
            raise _fail(key, "one of " + ", ".join(repr(o) for o in options), value)
        return value

    return check


def pattern(regex: re.Pattern[str], rule: str) -> Callable[[str, Any, Any], str]:
    def check(key: str, value: Any, lab: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value) or "/../" in f"/{value}/":
            raise _fail(key, rule, value)
        return value

    return check


remote_path = pattern(REMOTE_PATH, "a path on the device (letters, digits, _ . / ~ + -)")
token = pattern(TOKEN, "a short name (letters, digits, _ . + -)")


def rails(key: str, value: Any, lab: Any) -> str | list[str]:
    names = value if isinstance(value, list) else [value]
    named = all(isinstance(n, str) and TOKEN.fullmatch(n) for n in names)
    if not names or len(names) > 16 or not named:
        raise _fail(key, "a rail name such as 'VDD_IN' or a list of up to 16 of them", value)
    return value


def executable(key: str, value: Any, lab: LabPolicy) -> str:
    """An entry of the allow-list, by name; the driver receives its path."""
    if not isinstance(value, str) or value not in lab.executables:
        known = ", ".join(sorted(lab.executables)) or "none configured"
        raise _fail(
            key, f"the name of one of the lab's executables (DEVICE_EXECUTABLES: {known})", value
        )
    return lab.executables[value]


def lab_file(key: str, value: Any, lab: LabPolicy) -> str:
    """A file under the lab's device-files directory, named relative to it or absolutely."""
    root = lab.files_root.resolve()
    if not isinstance(value, str) or not value or "\x00" in value or value.startswith("-"):
        raise _fail(key, f"a file under the lab's device-files directory {root}", value)
    path = (root / value).resolve()  # an absolute value replaces root; resolve() follows links
    if path != root and root not in path.parents:
        raise _fail(key, f"a file under the lab's device-files directory {root}", value)
    return str(path)


def ssh_config(key: str, value: Any, lab: LabPolicy) -> str:
    return "none" if value == "none" else lab_file(key, value, lab)


def host(key: str, value: Any, lab: Any) -> str:
    if not isinstance(value, str) or not is_host(value):
        raise _fail(key, "a host name or IP address", value)
    return value


def user(key: str, value: Any, lab: Any) -> str:
    if not isinstance(value, str) or not USER.fullmatch(value):
        raise _fail(key, "a user name (letters, digits, _ . -; not starting with -)", value)
    return value


def serial(key: str, value: Any, lab: Any) -> str | None:
    if value is None:
        return None  # the device's address is the serial then
    if not isinstance(value, str) or not SERIAL.fullmatch(value):
        raise _fail(key, "an adb serial (letters, digits, _ . : -; not starting with -)", value)
    return value


def environment(key: str, value: Any, lab: Any) -> dict[str, str]:
    ok = isinstance(value, dict) and len(value) <= 16
    ok = ok and all(
        isinstance(k, str) and ENV_NAME.fullmatch(k) and isinstance(v, str | int) and not
        isinstance(v, bool) and re.fullmatch(r"[A-Za-z0-9_.,:=+-]{0,100}", str(v))
        for k, v in value.items()
    )  # fmt: skip
    if not ok:
        raise _fail(key, "an object of OMP_/KMP_/MKL_/TF_/XNNPACK_/OPENBLAS_ variables", value)
    return {k: str(v) for k, v in value.items()}


def sysfs_path(key: str, value: Any, lab: Any) -> str:
    if not isinstance(value, str) or not REMOTE_PATH.fullmatch(value):
        raise _fail(key, "a directory under /sys", value)
    path = Path(value).resolve()
    if Path("/sys") not in path.parents and path != Path("/sys"):
        raise _fail(key, "a directory under /sys", value)
    return str(path)


COMMON = {"seed": integer(0, 2**31 - 1), "delegate": token, "timeout_seconds": seconds}
SCHEMAS: dict[str, dict[str, Callable[[str, Any, Any], Any]]] = {
    "local": {
        **COMMON,
        "python": executable,
        "rapl_root": sysfs_path,
        "op_breakdown": flag,
        "env": environment,
    },
    "ssh": {
        **COMMON,
        "user": user,
        "host": host,
        "port": integer(1, 65535),
        "key_path": lab_file,
        "known_hosts": lab_file,
        "ssh_config": ssh_config,
        "host_key_policy": choice("yes", "accept-new"),
        "python": remote_path,
        "work_dir": remote_path,
        "sensor": choice("ina3221", "hwmon", "tegrastats", "none"),
        "rail": rails,
        "power_root": remote_path,
        "tegrastats": remote_path,
        "jetson_clocks": flag,
        "connect_timeout": seconds,
        "command_timeout": seconds,
        "copy_timeout": seconds,
    },
    "adb": {
        **COMMON,
        "serial": serial,
        "adb": executable,
        "benchmark_binary": lab_file,
        "remote_dir": remote_path,
        "use_gpu": flag,
        "use_xnnpack": flag,
        "power": flag,
        "taskset": pattern(HEX_MASK, "a hexadecimal CPU mask such as 'f0'"),
        "num_runs": integer(1, 1_000_000),
        "min_secs": seconds,
        "battery_dir": remote_path,
        "current_scale": positive,
        "voltage_scale": positive,
        "current_sign": choice(-1, 1),
        "battery_hz": positive,
        "adb_timeout_seconds": seconds,
        "push_timeout_seconds": seconds,
        "run_timeout_seconds": seconds,
    },
    # A device known from imported results: no driver, so nothing to configure.
    "external": {},
}


class LabPolicy:
    """What the lab lets device settings name.

    Args:
        executables: allow-list name -> the executable's path on the server.
        files_root: the directory keys, ssh configs and binaries must lie under.
    """

    def __init__(self, executables: Mapping[str, str], files_root: str | Path) -> None:
        self.executables = dict(executables)
        self.files_root = Path(files_root)


def is_host(text: str) -> bool:
    """A host name or an IP address (so never something starting with '-')."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return bool(HOSTNAME.fullmatch(text)) and len(text) <= 253
    return True


def check_address(kind: str, address: Any) -> str:
    """The address, parsed for its kind: ``[user@]host`` (ssh), a serial (adb), empty (local).

    Raises:
        DeviceSettingsError: naming the address received.
    """
    text = address if isinstance(address, str) else ""
    info = KINDS.get(kind)
    if info is not None and not info.needs_address and text:
        raise DeviceSettingsError(
            "address", f"A {kind} device has no address; leave it empty. Received: {text!r}"
        )
    if kind == "ssh":
        name, at, where = text.rpartition("@")
        if not is_host(where) or (at and not USER.fullmatch(name)):
            raise DeviceSettingsError(
                "address",
                "An ssh device needs user@host (a user name, then a host name or IP address; "
                f"set a port in the settings). Received: {text!r}",
            )
    if kind == "adb" and not SERIAL.fullmatch(text):
        raise DeviceSettingsError(
            "address",
            f"An adb device needs its serial or host:port, as `adb devices` lists it. "
            f"Received: {text!r}",
        )
    return text


def resolve(kind: str, address: Any, settings: Any, lab: LabPolicy) -> dict[str, Any]:
    """Check a device's address and settings; the settings its driver receives.

    Executable names become their allow-listed paths and lab files absolute
    paths. Unknown keys are refused, so a typo is not silently ignored.

    Raises:
        DeviceSettingsError: the first problem, naming the key and the value.
    """
    if kind not in SCHEMAS:
        raise DeviceSettingsError("kind", f"Unknown device kind. Received: kind={kind!r}")
    check_address(kind, address)
    if not isinstance(settings, dict):
        raise DeviceSettingsError(
            "settings", f"Driver settings must be a JSON object. Received: {settings!r}"
        )
    schema = SCHEMAS[kind]
    unknown = sorted(set(settings) - set(schema))
    if unknown:
        raise DeviceSettingsError(
            "settings",
            f"Unknown setting {unknown[0]!r} for a {kind} device. Known: "
            f"{', '.join(sorted(schema))}. Received: {unknown[0]}={settings[unknown[0]]!r}",
        )
    return {key: schema[key](key, value, lab) for key, value in settings.items()}
