"""The technique catalogue, this host as a device, and plan rows.

TensorFlow is imported inside the functions that need it: the web process
must not pay for it at start-up.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from django.db import transaction

from measurements.models import Device, Plan, Technique


def load_catalogue() -> int:
    """Create or update one Technique row per registered compression technique.

    Returns:
        The number of techniques in the registry.
    """
    from compression.techniques import all_techniques

    classes = all_techniques(model_format=None)
    with transaction.atomic():
        for cls in classes:
            Technique.objects.update_or_create(
                code=cls.code,
                defaults={
                    "name": cls.name,
                    "category": cls.category,
                    "applies_to": cls.applies_to,
                    "acts_on": cls.acts_on,
                    "accepts": list(cls.accepts),
                    "default_params": cls.default_config(),
                    "description": cls.description,
                    "reference": cls.reference,
                },
            )
    return len(classes)


def ensure_local_device(name: str = "local") -> tuple[Device, bool]:
    """Register this host's CPU as a device (once); refresh what it reports.

    Returns:
        The device and whether it was created now.
    """
    facts = describe_this_host()
    device, created = Device.objects.get_or_create(
        name=name, defaults={"kind": Device.Kind.LOCAL, **facts}
    )
    if not created:
        Device.objects.filter(pk=device.pk).update(**facts)
        device.refresh_from_db()
    return device, created


def describe_this_host(sysfs: Path = Path("/sys")) -> dict[str, Any]:
    """Processor, memory, cache and power sensor of this host, where readable."""
    rapl = sysfs / "class/powercap/intel-rapl:0/energy_uj"
    return {
        "processor": _cpu_model() or platform.processor() or platform.machine(),
        "dram_mb": _dram_mb(),
        "cache_mb": _cache_mb(sysfs),
        "power_sensor": Device.Sensor.RAPL if os.access(rapl, os.R_OK) else Device.Sensor.NONE,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _dram_mb() -> int | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None
    return int(pages * page_size // (1024 * 1024))


def _cache_mb(sysfs: Path) -> float | None:
    # The largest cache level of cpu0 (sizes read like "32768K").
    sizes = []
    for size_file in (sysfs / "devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = size_file.read_text().strip()
        if text.endswith("K") and text[:-1].isdigit():
            sizes.append(int(text[:-1]) / 1024)
    return max(sizes) if sizes else None


def get_or_create_plan(plan: Any) -> Plan:
    """The Plan row for a ``compression.plan.Plan``, one row per canonical form."""
    row, created = Plan.objects.get_or_create(
        sha256=plan.sha256(), defaults={"canonical": plan.canonical(), "steps": plan.to_json()}
    )
    if created:
        codes = {step.code for step in plan.steps}
        row.techniques.set(Technique.objects.filter(code__in=codes))
    return row
