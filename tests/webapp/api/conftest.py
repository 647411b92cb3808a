"""Clients with and without credentials, and a small world of rows to read."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from measurements.models import Artifact, Dataset, Device, DNNModel, Job, Plan, Result, Technique
from tests.factories import make_dataset, make_device, make_model, make_plan, make_result


def client_for(user: User | None) -> APIClient:
    """An API client sending ``user``'s token (anonymous when None)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anonymous(db) -> APIClient:
    return APIClient()


@pytest.fixture
def user(db) -> User:
    return User.objects.create_user("ada", password="lovelace-1843")


@pytest.fixture
def signed_in(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def reader(db) -> APIClient:
    """A signed-in user who is not staff: reading needs a login unless the lab is public."""
    return client_for(User.objects.create_user("reader", password="reads-1234"))


@pytest.fixture
def staff(db) -> APIClient:
    return client_for(User.objects.create_user("grace", password="hopper-1952", is_staff=True))


def make_technique(code: str, category: str, applies_to: str = "fc") -> Technique:
    return Technique.objects.create(
        code=code,
        name=f"{code} technique",
        category=category,
        applies_to=applies_to,
        description=f"{code} does something.",
    )


def make_plan_of(canonical: str, codes: list[str]) -> Plan:
    """A Plan row whose steps and technique links use ``codes``."""
    plan = make_plan(canonical, [{"code": c, "params": {}, "targets": []} for c in codes])
    plan.techniques.set(Technique.objects.filter(code__in=codes))
    return plan


@dataclass
class World:
    """Two datasets, three models, three plans, two devices, four results."""

    digits: Dataset
    cifar: Dataset
    lenet: DNNModel
    lenet_b: DNNModel
    alexnet: DNNModel
    baseline: Plan
    pruned: Plan
    pruned_int8: Plan
    laptop: Device
    jetson: Device
    results: dict[str, Result]
    jobs: dict[str, Job]


@pytest.fixture
def world(db) -> World:
    make_technique("W3", "pruning")
    make_technique("Q-int8", "quantization", "model")
    make_technique("C2", "convolution decomposition", "conv")
    digits, cifar = make_dataset(name="digits"), make_dataset(name="cifar10", num_classes=10)
    lenet = make_model(name="lenet", dataset=digits)
    lenet_b = make_model(name="lenet-b", dataset=digits, is_baseline=False)
    alexnet = make_model(name="alexnet", architecture="alexnet", dataset=cifar)
    baseline = make_plan_of("baseline", [])
    pruned = make_plan_of("W3(s=0.6)@fc1", ["W3"])
    pruned_int8 = make_plan_of("W3(s=0.6)@fc1 + Q-int8", ["W3", "Q-int8"])
    laptop = make_device(name="laptop", kind=Device.Kind.LOCAL)
    jetson = make_device(name="jetson-tx2", kind=Device.Kind.SSH, address="nvidia@tx2")

    def measured(name, model, plan, device, threads=1, **figures) -> Result:
        # Rows built directly: the factories' setdefault(…, make_x()) builds extra rows.
        # The export mode is the plan's (its quantization step), as compression writes it.
        mode = "int8" if plan.canonical.endswith("Q-int8") else "float32"
        artifact = Artifact.objects.create(
            model=model,
            plan=plan,
            status="ready",
            file_size=figures.pop("file_size"),
            export_mode=mode,
        )
        job = Job.objects.create(
            artifact=artifact, device=device, num_threads=threads, status="succeeded"
        )
        jobs[name] = job
        return make_result(job=job, **figures)

    jobs: dict[str, Job] = {}
    results = {
        "base": measured(
            "base",
            lenet,
            baseline,
            laptop,
            latency_mean_ms=2.0,
            accuracy=0.98,
            energy_mj=5.0,
            energy_measured=True,
            energy_method="rapl",
            file_size=240_000,
        ),
        "pruned": measured(
            "pruned",
            lenet,
            pruned,
            laptop,
            latency_mean_ms=1.5,
            accuracy=0.97,
            energy_mj=4.0,
            file_size=120_000,
        ),
        "int8": measured(
            "int8",
            lenet,
            pruned_int8,
            jetson,
            threads=4,
            latency_mean_ms=0.7,
            accuracy=0.90,
            energy_mj=1.0,
            file_size=30_000,
        ),
        "alex": measured(
            "alex",
            alexnet,
            baseline,
            jetson,
            latency_mean_ms=9.0,
            accuracy=0.80,
            energy_mj=30.0,
            file_size=900_000,
        ),
    }
    queued = Job.objects.create(artifact=results["pruned"].artifact, device=jetson)
    jobs["queued"] = queued
    models = {"lenet": lenet, "lenet_b": lenet_b, "alexnet": alexnet}
    plans = {"baseline": baseline, "pruned": pruned, "pruned_int8": pruned_int8}
    return World(
        digits, cifar, **models, **plans, laptop=laptop, jetson=jetson, results=results, jobs=jobs
    )


def ids_of(response) -> list[int]:
    """The ids on a paginated list response."""
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]
