"""Workflows across models, as verb-named functions.

The compression library (and so TensorFlow) is imported inside the functions
that need it: the web process must not pay for TensorFlow at start-up.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from measurements.models import Artifact, Dataset, Device, DNNModel, Job, Plan, Result, Technique


def load_catalogue() -> int:
    """Create or update one Technique row per registered compression technique.

    Returns:
        The number of techniques in the registry.
    """
    from compression.techniques import all_techniques

    classes = all_techniques()
    with transaction.atomic():
        for cls in classes:
            Technique.objects.update_or_create(
                code=cls.code,
                defaults={
                    "name": cls.name,
                    "category": cls.category,
                    "applies_to": cls.applies_to,
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


# --- Artifacts: compress once, however many runners ask -------------------------------

# A compression claimed longer ago than this is presumed abandoned (runner killed).
STALE_COMPRESSION = timedelta(minutes=30)
# Dataset.source -> compression.data.registry loader name.
LOADER_BY_SOURCE = {"bundled": "digits", "keras": "keras", "npz": "npz"}
ACCURACY_METHOD = "host-evaluated through the .tflite (LiteRT) on the test split"


class ArtifactFailed(ValueError):
    """The artifact could not be compressed; retrying the same plan will not help."""


def ensure_artifact_ready(
    artifact: Artifact, on_wait: Callable[[], None] | None = None, poll_seconds: float = 1.0
) -> Artifact:
    """Return the artifact compressed, compressing it here unless another runner is.

    The first runner to move the row from pending to compressing (a guarded
    UPDATE) does the work; the others wait for it, calling ``on_wait`` between
    polls so they can notice a cancellation.

    Raises:
        ArtifactFailed: compression failed, here or in another runner.
    """
    while True:
        artifact.refresh_from_db()
        if artifact.status == Artifact.Status.READY:
            return artifact
        if artifact.status == Artifact.Status.FAILED:
            raise ArtifactFailed(f"Compression failed: {artifact.error}")
        now = timezone.now()
        takeable = Q(status=Artifact.Status.PENDING) | Q(
            status=Artifact.Status.COMPRESSING, updated_at__lt=now - STALE_COMPRESSION
        )
        rows = Artifact.objects.filter(takeable, pk=artifact.pk)
        if rows.update(status=Artifact.Status.COMPRESSING, updated_at=now):
            return compress_artifact(artifact)
        if on_wait:
            on_wait()
        time.sleep(poll_seconds)


def compress_artifact(artifact: Artifact) -> Artifact:
    """Apply the artifact's plan to its model, store both files and every metric."""
    try:
        _run_compression(artifact)
    except Exception as exc:
        Artifact.objects.filter(pk=artifact.pk).update(
            status=Artifact.Status.FAILED, error=f"{type(exc).__name__}: {exc}"
        )
        raise ArtifactFailed(f"Compression failed: {exc}") from exc
    artifact.refresh_from_db()
    return artifact


def _run_compression(artifact: Artifact) -> None:
    from compression.data.registry import load_dataset
    from compression.modelio import load_model
    from compression.pipeline import compress
    from compression.plan import Plan as CompressionPlan
    from compression.training import FineTune

    dataset_row = artifact.model.dataset
    dataset = load_dataset(LOADER_BY_SOURCE[dataset_row.source], **dataset_row.source_options)
    model = load_model(artifact.model.file.path)
    plan = CompressionPlan.from_json(artifact.plan.steps)
    budget = FineTune(epochs=settings.COMPRESSION_FINE_TUNE_EPOCHS)
    with tempfile.TemporaryDirectory() as tmp:
        output = compress(model, plan, dataset, tmp, fine_tune=budget)
        _store_compression(artifact, output)


def _store_compression(artifact: Artifact, output: Any) -> None:
    static, quality = output.static_metrics, output.accuracy_metrics
    with transaction.atomic():
        files = (("keras_file", output.keras_path), ("tflite_file", output.tflite_path))
        for field_name, path in files:
            with open(path, "rb") as handle:
                getattr(artifact, field_name).save(Path(path).name, File(handle), save=False)
        artifact.content_key = Path(output.tflite_path).stem
        artifact.tflite_sha256 = hashlib.sha256(Path(output.tflite_path).read_bytes()).hexdigest()
        artifact.export_mode = output.export_mode
        artifact.static_metrics = static
        for name in ("params", "nonzero_params", "sp_bits", "sf_bits", "macs"):
            setattr(artifact, name, _int_or_none(static.get(name)))
        artifact.file_size = _int_or_none(static.get("file_size_bytes"))
        artifact.gzip_size = _int_or_none(static.get("gzip_size_bytes"))
        for name in ("accuracy", "top5_accuracy", "precision", "recall", "f1"):
            setattr(artifact, name, quality.get(name))
        artifact.compress_seconds = output.seconds
        artifact.status, artifact.error = Artifact.Status.READY, ""
        artifact.save()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# --- Models, plans and jobs -----------------------------------------------------------


def register_dataset(name: str, source: str, options: dict[str, Any] | None = None) -> Dataset:
    """The Dataset row for a loader spec, created on first use with its split sizes."""
    from compression.data.registry import load_dataset

    existing = Dataset.objects.filter(name=name).first()
    if existing:
        return existing
    options = options or {}
    data = load_dataset(LOADER_BY_SOURCE[source], **options)
    sizes = data.split_sizes
    return Dataset.objects.create(
        name=name,
        input_shape=list(data.input_shape),
        num_classes=data.num_classes,
        source=source,
        source_options=options,
        train_size=sizes["train"],
        val_size=sizes["val"],
        test_size=sizes["test"],
    )


def register_model_file(
    name: str, architecture: str, dataset: Dataset, path: str | Path, baseline: bool = True
) -> DNNModel:
    """Store a trained .keras file as a DNNModel (loaded in Keras safe mode first)."""
    from compression.analysis import analyze_keras
    from compression.modelio import load_model, model_sha256

    model = load_model(path)  # refuses corrupt files and Lambda layers with a clear message
    row = DNNModel(
        name=name,
        architecture=architecture,
        dataset=dataset,
        sha256=model_sha256(path),
        param_count=int(analyze_keras(model)["params"]),
        is_baseline=baseline,
    )
    with open(path, "rb") as handle:
        row.file.save(f"{name}.keras", File(handle), save=False)
    row.save()
    return row


def train_and_register_baseline(
    arch: str, dataset: Dataset, epochs: int, seed: int = 0, name: str | None = None
) -> DNNModel:
    """Train a zoo architecture on a registered dataset and store it as a baseline."""
    from compression.baseline import train_baseline
    from compression.data.registry import load_dataset
    from compression.modelio import save_model

    data = load_dataset(LOADER_BY_SOURCE[dataset.source], **dataset.source_options)
    model = train_baseline(arch, data, epochs=epochs, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{arch}.keras"
        save_model(model, path)
        return register_model_file(name or f"{arch}-{dataset.name}", arch, dataset, path)


def standard_sweep_texts() -> list[str]:
    """Baseline plus every registered technique alone, at each of its sweep settings."""
    from compression.plan import Plan as CompressionPlan
    from compression.plan import PlanStep
    from compression.techniques import all_techniques

    texts = [CompressionPlan.baseline().canonical()]
    for cls in all_techniques():
        for params in cls.sweep:
            texts.append(CompressionPlan((PlanStep(cls.code, dict(params), ()),)).canonical())
    return texts


def queue_jobs(
    models: list[DNNModel],
    plan_texts: list[str],
    devices: list[Device],
    threads: list[int],
    protocol: dict[str, Any] | None = None,
    user: Any = None,
) -> list[Job]:
    """Queue model x plan x device x threads; skips combinations already queued or done.

    Plans are parsed first, so a malformed one refuses the whole request.
    """
    from compression.plan import Plan as CompressionPlan

    if any(t < 1 for t in threads):
        raise ValueError(f"Thread counts must be at least 1. Received: threads={threads}")
    plans = [CompressionPlan.parse(text) for text in plan_texts]
    jobs = []
    with transaction.atomic():
        rows = [get_or_create_plan(plan) for plan in plans]
        for model, plan_row, device, n in itertools.product(models, rows, devices, threads):
            artifact, _ = Artifact.objects.get_or_create(model=model, plan=plan_row)
            live = Job.objects.filter(artifact=artifact, device=device, num_threads=n)
            if live.exclude(status__in=["failed", "cancelled"]).exists():
                continue
            jobs.append(
                Job.objects.create(
                    artifact=artifact,
                    device=device,
                    num_threads=n,
                    protocol=protocol or {},
                    max_attempts=settings.JOB_MAX_ATTEMPTS,
                    created_by=user if getattr(user, "is_authenticated", False) else None,
                )
            )
    return jobs


# --- Results --------------------------------------------------------------------------


class LeaseLost(Exception):
    """The job was cancelled or taken by another runner before its result was stored."""


def store_result(job: Job, owner: str, raw: dict[str, Any]) -> Result:
    """Store one Result for a measured job and mark the job succeeded, atomically.

    Energy comes from the device's sensor when the driver measured it, and is
    otherwise estimated with AdaDeep eq. 5 from the artifact's static figures;
    the Result says which. Accuracy is the artifact's, evaluated on the host.

    Raises:
        LeaseLost: the job is no longer this runner's; nothing is stored.
    """
    artifact = job.artifact
    latency = raw["latency"]
    fields = {
        "latency_mean_ms": latency["mean_ms"],
        "latency_median_ms": latency["median_ms"],
        "latency_p90_ms": latency["p90_ms"],
        "latency_std_ms": latency["std_ms"],
        "latency_ci95_ms": latency.get("ci_half_width_ms"),
        "runs": latency["runs"],
        "stop_reason": latency["stop_reason"],
        "stable": bool(latency["stable"]),
        "init_ms": raw.get("init_ms"),
        "first_inference_ms": raw.get("first_inference_ms"),
        "peak_memory_bytes": raw.get("peak_memory_bytes"),
        "op_breakdown": raw.get("op_breakdown") or {},
        "op_breakdown_method": raw.get("op_breakdown_method")
        or (raw.get("op_breakdown_reason") or ""),
        "provenance": {**raw.get("provenance", {}), "protocol": raw.get("protocol", {})},
        **_energy_fields(raw, artifact),
    }
    with transaction.atomic():
        result = Result.objects.create(
            job=job,
            artifact=artifact,
            device=job.device,
            num_threads=job.num_threads,
            accuracy=artifact.accuracy,
            precision=artifact.precision,
            recall=artifact.recall,
            f1=artifact.f1,
            accuracy_method=ACCURACY_METHOD,
            **fields,
        )
        if not job.succeed(owner):
            raise LeaseLost(f"Job {job.pk} is no longer leased to {owner}; result discarded.")
    return result


def _energy_fields(raw: dict[str, Any], artifact: Artifact) -> dict[str, Any]:
    from measurements.power.estimate import ESTIMATE_METHOD, estimate_energy_mj

    energy = raw.get("energy")
    if energy and energy.get("energy_mj") is not None:
        return {
            "energy_mj": max(energy["energy_mj"], 0.0),
            "energy_measured": True,
            "energy_method": energy.get("method") or "measured",
            "avg_power_w": energy.get("average_power_w"),
        }
    if None in (artifact.macs, artifact.sp_bits, artifact.sf_bits):
        return {"energy_mj": None, "energy_measured": False, "energy_method": ""}
    return {
        "energy_mj": estimate_energy_mj(artifact.macs, artifact.sp_bits, artifact.sf_bits),
        "energy_measured": False,
        "energy_method": ESTIMATE_METHOD,
    }
