"""Small builders of database rows for tests (plain functions, explicit defaults)."""

from __future__ import annotations

import hashlib
import itertools

from django.core.files.base import ContentFile

from measurements.models import Artifact, Dataset, Device, DNNModel, Job, Plan, Result

_serial = itertools.count(1)


def make_dataset(**fields) -> Dataset:
    n = next(_serial)
    defaults = {
        "name": f"digits-{n}",
        "input_shape": [8, 8, 1],
        "num_classes": 10,
        "source": Dataset.Source.BUNDLED,
        "train_size": 1078,
        "val_size": 359,
        "test_size": 360,
    }
    return Dataset.objects.create(**{**defaults, **fields})


def make_model(**fields) -> DNNModel:
    n = next(_serial)
    model = DNNModel(
        name=fields.pop("name", f"lenet-{n}"),
        architecture=fields.pop("architecture", "lenet"),
        dataset=fields.pop("dataset", None) or make_dataset(),
        param_count=fields.pop("param_count", 61706),
        **fields,
    )
    model.file.save(f"model-{n}.keras", ContentFile(b"not a real model"), save=False)
    model.save()
    return model


def make_plan(canonical: str | None = None, steps: list | None = None) -> Plan:
    canonical = canonical or f"W3(s=0.{next(_serial) % 9 + 1})@fc1"
    return Plan.objects.create(
        canonical=canonical,
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        steps=steps if steps is not None else [{"code": "W3", "params": {}, "targets": []}],
    )


def make_artifact(**fields) -> Artifact:
    # Build defaults only when missing: setdefault would create the rows regardless.
    if "model" not in fields:
        fields["model"] = make_model()
    if "plan" not in fields:
        fields["plan"] = make_plan()
    fields.setdefault("status", Artifact.Status.READY)
    return Artifact.objects.create(**fields)


def make_device(**fields) -> Device:
    fields.setdefault("name", f"device-{next(_serial)}")
    fields.setdefault("kind", Device.Kind.LOCAL)
    return Device.objects.create(**fields)


def make_job(**fields) -> Job:
    if "artifact" not in fields:
        fields["artifact"] = make_artifact()
    if "device" not in fields:
        fields["device"] = make_device()
    return Job.objects.create(**fields)


def make_result(**fields) -> Result:
    job = fields.pop("job", None) or make_job()
    defaults = {
        "job": job,
        "artifact": job.artifact,
        "device": job.device,
        "num_threads": job.num_threads,
        "latency_mean_ms": 1.5,
        "accuracy": 0.95,
    }
    return Result.objects.create(**{**defaults, **fields})
