"""Issue 15's done-when: a PyTorch program and a ready-made .tflite, uploaded through the
API and through the dashboard, compressed and measured by ``runjobs`` on this host, on
the Pareto page with their quantized (AQ-*) and pruned (TP) variants.

The program (a small CNN with BatchNorm and a residual add, trained on the bundled
digits for five epochs) is built and exported in a spawn child: torch never loads in
this process, nor in the web views, nor in the runner (only in their children).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from compression.data import load_digits
from measurements import actions
from measurements.models import Artifact, Device, DNNModel, Job, Result
from tests.compression.tflite_files import channels_first_tflite
from tests.compression.torch_programs import in_child
from tests.device_runner.test_runjobs import (  # noqa: F401  (autouse: no runner outlives a test)
    QUICK,
    _no_runner_outlives_its_test,
    finish,
    start_runner,
)
from tests.webapp.dashboard.helpers_analysis import embedded_json

pytestmark = pytest.mark.django_db(transaction=True)

PT2_PLANS = ["baseline", "AQ-dyn", "TP"]  # TP: ratio 0.5, its default
# Pruned then quantized in one artifact (one compression fewer than the API's test).
COMBINED_PLANS = ["baseline", "TP + AQ-dyn"]
# Full int8: calibration runs the file, so it must get the samples channels first too.
TFLITE_PLANS = ["baseline", "AQ-int8(samples=50)"]


@pytest.fixture(scope="module")
def program() -> bytes:
    digits = load_digits(seed=0)
    return in_child("residual_cnn_pt2", digits.x_train, digits.y_train, 5, True)


@pytest.fixture
def lab() -> dict:
    """The bundled digits, the techniques catalogue, this host as a device, a user."""
    actions.load_catalogue()
    return {
        "dataset": actions.register_dataset("digits", "bundled", {"seed": 0}),
        "device": Device.objects.create(
            name="host", kind="local", settings={"op_breakdown": False}
        ),
        "user": User.objects.create_user("ada", password="lovelace-1843"),
    }


def api_client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def dashboard_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload_through_the_api(lab: dict, name: str, file_name: str, content: bytes) -> DNNModel:
    response = api_client(lab["user"]).post(
        "/api/models/",
        {
            "file": SimpleUploadedFile(file_name, content),
            "name": name,
            "architecture": "residual-cnn",
            "dataset": lab["dataset"].pk,
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return DNNModel.objects.get(pk=response.json()["id"])


def upload_through_the_dashboard(lab: dict, name: str, file_name: str, content: bytes) -> DNNModel:
    form = {
        "file": SimpleUploadedFile(file_name, content),
        "name": name,
        "architecture": "residual-cnn",
        "dataset": str(lab["dataset"].pk),
    }
    response = dashboard_client(lab["user"]).post("/models/upload/", form)
    model = DNNModel.objects.get(name=name)
    assert response.status_code == 302 and response["Location"] == f"/models/{model.pk}/"
    return model


def queue_through_the_api(lab: dict, model: DNNModel, plans: list[str]) -> None:
    body = {
        "models": [model.pk],
        "plans": plans,
        "devices": [lab["device"].pk],
        "protocol": QUICK,
    }
    response = api_client(lab["user"]).post("/api/jobs/", body, format="json")
    assert response.status_code == 201 and response.json()["count"] == len(plans), response.content


def queue_through_the_dashboard(lab: dict, model: DNNModel, plans: list[str]) -> None:
    form = {
        "models": [model.pk],
        "devices": [lab["device"].pk],
        "threads": "1",
        "plans": "\n".join(plans),
        "min_runs": "5",
        "max_runs": "50",
        "max_seconds": "0.3",
        "action": "queue",
    }
    response = dashboard_client(lab["user"]).post("/jobs/new/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Job.objects.filter(artifact__model=model).count() == len(plans)


def run_jobs() -> None:
    output = finish(start_runner("--device", "host", "--once"))
    assert "Traceback" not in output, output


def assert_measured_with_variants(lab: dict, model: DNNModel, plans: list[str]) -> dict:
    """Every job succeeded; the Pareto page plots one result per plan; the artifacts by plan."""
    jobs = Job.objects.filter(artifact__model=model)
    assert {j.status for j in jobs} == {"succeeded"}, [(j.status, j.error) for j in jobs]
    artifacts = {a.plan.canonical: a for a in Artifact.objects.filter(model=model)}
    assert set(artifacts) == set(plans)
    for artifact in artifacts.values():
        assert artifact.status == "ready" and not artifact.keras_file
        assert artifact.tflite_file and artifact.file_size > 0 and artifact.params > 0
        assert 0 <= artifact.accuracy <= 1 and artifact.f1 is not None
        assert artifact.static_metrics["source_format"] == model.format
    results = Result.objects.filter(artifact__model=model)
    assert results.count() == len(plans)
    assert all(r.latency_mean_ms > 0 and r.accuracy is not None for r in results)

    query = {"dataset": model.dataset_id, "model": model.pk, "x": "latency", "y": "accuracy"}
    page = dashboard_client(lab["user"]).get("/pareto/", query)
    assert page.status_code == 200
    figure = embedded_json(page.content.decode(), "pareto-figure")
    plotted = {
        point[0]
        for trace in figure["data"]
        if trace.get("legendgroup") == "categories"
        for point in trace["customdata"]
    }
    assert plotted == {r.pk for r in results}
    front = api_client(lab["user"]).get("/api/pareto", {"model": model.pk}).json()["front"]
    assert front and {r["id"] for r in front} <= plotted
    return artifacts


def assert_pt2_baseline(model: DNNModel, baseline: Artifact) -> None:
    """The baseline is the .tflite converted (and checked) at upload, measured as it is."""
    assert (model.format, model.input_layout) == ("pt2", "NCHW")
    assert 0 <= model.conversion_max_abs_diff < 1e-4 and model.conversion_seconds > 0
    with baseline.tflite_file.open("rb") as stored, model.converted_file.open("rb") as converted:
        assert stored.read() == converted.read()
    assert baseline.static_metrics["conversion"]["max_abs_diff"] == model.conversion_max_abs_diff
    assert baseline.accuracy > 0.5, baseline.accuracy  # five epochs of training: far above chance


def assert_pruned(pruned: Artifact, baseline: Artifact) -> None:
    """Pruned in PyTorch, converted again in the runner's child and checked against PyTorch."""
    assert pruned.params < baseline.params * 0.6
    assert "in this compression" in pruned.static_metrics["conversion"]["source"]
    assert pruned.static_metrics["conversion"]["max_abs_diff"] < 1e-3
    assert pruned.static_metrics["recovery"]["baseline_accuracy"] == pytest.approx(
        baseline.accuracy
    )


def test_it_takes_a_pytorch_program_through_the_api_to_the_pareto_page(lab, program):
    model = upload_through_the_api(lab, "torchnet", "torchnet.pt2", program)
    assert "torch" not in sys.modules  # the upload converted in a child process
    queue_through_the_api(lab, model, PT2_PLANS)
    run_jobs()
    artifacts = assert_measured_with_variants(lab, model, PT2_PLANS)
    baseline, quantized, pruned = (artifacts[p] for p in PT2_PLANS)
    assert_pt2_baseline(model, baseline)
    assert quantized.file_size < baseline.file_size * 0.6
    assert "int8" in quantized.static_metrics["weight_dtypes"]
    assert quantized.accuracy > baseline.accuracy - 0.1
    assert_pruned(pruned, baseline)


def test_it_takes_a_pytorch_program_through_the_dashboard_to_the_pareto_page(lab, program):
    model = upload_through_the_dashboard(lab, "torchnet-form", "torchnet.pt2", program)
    detail = dashboard_client(lab["user"]).get(f"/models/{model.pk}/").content.decode()
    assert "PyTorch program (.pt2), input NCHW" in detail and "litert-torch at upload" in detail
    queue_through_the_dashboard(lab, model, COMBINED_PLANS)
    run_jobs()
    artifacts = assert_measured_with_variants(lab, model, COMBINED_PLANS)
    baseline, both = (artifacts[p] for p in COMBINED_PLANS)
    assert_pt2_baseline(model, baseline)
    assert_pruned(both, baseline)
    assert both.export_mode == "aq-dyn" and "int8" in both.static_metrics["weight_dtypes"]
    assert both.file_size < baseline.file_size * 0.5


@pytest.fixture(scope="module")
def ready_made() -> bytes:
    """A trained .tflite taking channels-first (1, 8, 8) samples, from a user's toolchain."""
    return channels_first_tflite(load_digits(seed=0))


def assert_tflite_variants(model: DNNModel, artifacts: dict, content: bytes) -> None:
    assert (model.format, model.input_layout) == ("tflite", "NCHW")
    baseline, int8 = (artifacts[p] for p in TFLITE_PLANS)
    with baseline.tflite_file.open("rb") as stored:
        assert stored.read() == content  # the uploaded file itself
    # Evaluated with the dataset's NHWC samples moved channels first, as the file takes them.
    assert "conversion" not in baseline.static_metrics and baseline.accuracy > 0.8
    assert int8.export_mode == "aq-int8" and "int8" in int8.static_metrics["weight_dtypes"]
    assert int8.file_size < baseline.file_size * 0.6
    assert int8.accuracy > baseline.accuracy - 0.05, (baseline.accuracy, int8.accuracy)


def test_it_takes_a_tflite_through_the_api_to_the_pareto_page(lab, ready_made):
    model = upload_through_the_api(lab, "litenet", "litenet.tflite", ready_made)
    queue_through_the_api(lab, model, TFLITE_PLANS)
    run_jobs()
    artifacts = assert_measured_with_variants(lab, model, TFLITE_PLANS)
    assert_tflite_variants(model, artifacts, ready_made)


def test_it_takes_a_tflite_through_the_dashboard_to_the_pareto_page(lab, ready_made):
    model = upload_through_the_dashboard(lab, "litenet-form", "litenet.tflite", ready_made)
    queue_through_the_dashboard(lab, model, TFLITE_PLANS)
    run_jobs()
    artifacts = assert_measured_with_variants(lab, model, TFLITE_PLANS)
    assert_tflite_variants(model, artifacts, ready_made)
    assert np.isfinite(artifacts["baseline"].static_metrics["energy_mj"])
