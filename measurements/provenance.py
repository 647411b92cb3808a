"""Where and how a figure was measured, so two figures can be compared.

Seed 003 shows latency changing several-fold with the thread count and seed
001 fixes the runtime and OS versions for a reason: a latency means nothing
without the runtime, its version and delegate, the threads, the CPU, its
frequency governor and the load it ran under. Everything is read from procfs
and sysfs when readable; a missing or unreadable file gives ``None``, never an
exception (a board without cpufreq is still measurable). No Django import.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUNTIME = "ai_edge_litert"
RUNTIME_DISTRIBUTION = "ai-edge-litert"
# Keys that must be equal for two latency figures to be comparable.
COMPARABLE_KEYS = (
    "runtime",
    "runtime_version",
    "delegate",
    "num_threads",
    "machine",
    "cpu_model",
    "cpu_count",
    "governor",
    "freq_max_khz",
    "os",
    "kernel",
)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def cpu_model(procfs: Path) -> str | None:
    """CPU model from cpuinfo: ``model name`` on x86, ``Hardware``/``CPU part`` on ARM."""
    text = _read(procfs / "cpuinfo")
    if text is None:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    for key in ("model name", "Model", "Hardware", "Processor", "cpu model"):
        if fields.get(key):
            return fields[key]
    part = fields.get("CPU part")
    return f"{fields.get('CPU implementer', '?')}:{part}" if part else None


def cpufreq(sysfs: Path) -> dict[str, Any]:
    """Governor(s) and frequencies (kHz) of every CPU with a readable cpufreq."""
    cpus = sorted((sysfs / "devices/system/cpu").glob("cpu[0-9]*"), key=lambda p: int(p.name[3:]))
    governors, cur, lows, highs = set(), [], [], []
    for cpu in cpus:
        freq = cpu / "cpufreq"
        governor = _read(freq / "scaling_governor")
        if governor:
            governors.add(governor)
        cur.append(_read_int(freq / "scaling_cur_freq"))
        lows.append(_read_int(freq / "scaling_min_freq"))
        highs.append(_read_int(freq / "scaling_max_freq"))
    known = [v for v in cur if v is not None]
    low = [v for v in lows if v is not None]
    high = [v for v in highs if v is not None]
    return {
        "governor": ",".join(sorted(governors)) or None,
        "freq_cur_khz": cur if known else None,
        "freq_min_khz": min(low) if low else None,
        "freq_max_khz": max(high) if high else None,
    }


def temperatures(sysfs: Path) -> dict[str, float] | None:
    """Thermal zone temperatures in degrees C (sysfs gives millidegrees)."""
    zones = sorted((sysfs / "class/thermal").glob("thermal_zone*"))
    out: dict[str, float] = {}
    for zone in zones:
        milli = _read_int(zone / "temp")
        if milli is not None:
            out[f"{zone.name}:{_read(zone / 'type') or '?'}"] = milli / 1000.0
    return out or None


def _runtime_version() -> str | None:
    try:
        return importlib.metadata.version(RUNTIME_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def _load() -> list[float] | None:
    try:
        return [round(x, 3) for x in os.getloadavg()]
    except OSError:
        return None


def collect_provenance(
    num_threads: int,
    delegate: str = "none",
    *,
    artifact_sha256: str | None = None,
    sysfs: str | Path = "/sys",
    procfs: str | Path = "/proc",
) -> dict[str, Any]:
    """Describe this host and runtime for a measurement about to run.

    Args:
        num_threads: interpreter threads of the measurement.
        delegate: delegate requested (``"none"`` = LiteRT's default CPU kernels).
        artifact_sha256: hash of the measured file, when known.
        sysfs: sysfs root; tests point it at a directory they write.
        procfs: procfs root, likewise.

    Returns:
        A JSON-ready dict; values that cannot be read are ``None``.
    """
    sysfs, procfs = Path(sysfs), Path(procfs)
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "runtime": RUNTIME,
        "runtime_version": _runtime_version(),
        "delegate": delegate,
        "num_threads": num_threads,
        "artifact_sha256": artifact_sha256,
        "python": platform.python_version(),
        "os": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "hostname": platform.node(),
        "cpu_model": cpu_model(procfs),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        **cpufreq(sysfs),
        "temperature_c": temperatures(sysfs),
        "load_avg": _load(),
        "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def comparable(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Why figures measured under provenance ``a`` and ``b`` are not comparable.

    Compares ``COMPARABLE_KEYS`` (runtime and version, delegate, threads, CPU,
    governor, maximum frequency, OS and kernel). A value unreadable on one
    side only counts as a difference: equality cannot be confirmed.

    Returns:
        One message per differing key; empty when comparable.
    """
    reasons = []
    for key in COMPARABLE_KEYS:
        left, right = a.get(key), b.get(key)
        if left != right:
            reasons.append(f"{key} differs: {left!r} vs {right!r}")
    return reasons


# How a figure was obtained: the one vocabulary every page, API field, CSV column and
# CLI line uses. An imported figure always names where it was imported from.
MEASURED = "measured"
ESTIMATED = "estimated"
PREDICTED = "predicted"
IMPORTED = "imported"
KINDS = (MEASURED, ESTIMATED, PREDICTED, IMPORTED)
# Result groups of figures, as the API nests them.
RESULT_GROUPS = ("latency", "energy", "memory", "quality", "op_breakdown")
STATIC_FIGURES = (
    "params",
    "nonzero_params",
    "sp_bits",
    "sf_bits",
    "macs",
    "file_size",
    "gzip_size",
)
# Artifact.static_metrics key naming the static figures an import supplied, and from where.
IMPORTED_STATIC_KEY = "imported"


def describe(kind: str, label: str = "") -> str:
    """A provenance kind as shown, with its label: ``"imported (Smith et al. 2024)"``.

    Raises:
        ValueError: ``kind`` is not one of KINDS.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown provenance kind. Known: {', '.join(KINDS)}. Received: {kind!r}")
    label = label.strip()
    return f"{kind} ({label})" if label else kind


def result_figure_source(
    source: str, source_label: str, group: str, energy_measured: bool = False
) -> str:
    """How a Result's figures of ``group`` (one of RESULT_GROUPS) were obtained.

    An imported row is imported whatever it says about its own method (its
    ``energy_measured`` or ``accuracy_method`` is the other lab's claim, kept
    beside the figure); a row measured here is measured, except energy, which
    is estimated when no sensor read it.
    """
    if source == IMPORTED:
        return describe(IMPORTED, source_label or "source not named")
    if group == "energy" and not energy_measured:
        return ESTIMATED
    return MEASURED


def imported_static(static_metrics: Any) -> dict[str, Any]:
    """``{"source_label", "figures"}`` of an artifact's imported static figures (may be empty)."""
    found = static_metrics.get(IMPORTED_STATIC_KEY) if isinstance(static_metrics, dict) else None
    return found if isinstance(found, dict) else {}


def static_figure_source(static_metrics: Any, name: str) -> str:
    """How an artifact's static figure ``name`` was obtained: from its files, or imported."""
    imported = imported_static(static_metrics)
    if name in (imported.get("figures") or []):
        return describe(IMPORTED, str(imported.get("source_label") or "source not named"))
    return MEASURED


def figure_sources(result: Any) -> dict[str, Any]:
    """How each group of a Result's figures, and each static figure of its artifact, was obtained.

    ``result`` is a Result with its artifact (duck-typed: no Django import here).
    """
    sources: dict[str, Any] = {
        group: result_figure_source(
            result.source, result.source_label, group, result.energy_measured
        )
        for group in RESULT_GROUPS
    }
    static = result.artifact.static_metrics
    sources["static"] = {name: static_figure_source(static, name) for name in STATIC_FIGURES}
    return sources
