"""Import keeps every figure: static columns on the artifact, exact round trips, no duplicates."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements import actions
from measurements.models import Artifact, Device, DNNModel, Job, Plan, Result

pytestmark = pytest.mark.django_db

PAPER = (
    "model,device,plan,threads,latency_mean_ms,accuracy,energy_mj,"
    "file_size,gzip_size,params,nonzero_params,macs,sp_bits,sf_bits\n"
    "lenet-b,jetson-tx2,W3(s=0.5)@fc1 + Q-int8,1,0.41,0.962,0.8,"
    "21000,9000,61706,30853,416520,246824,1024\n"
    "lenet-b,jetson-tx2,baseline,1,0.9,0.981,2.5,243000,221000,61706,61706,416520,1974592,32768\n"
)
# Every column the export writes except the ones that say where and when a row was stored.
NOT_ROUND_TRIPPED = {"id", "job", "created_at", "source", "source_label", "static_source"}


def upload(client, text: str, name: str = "paper.csv", label: str = "Smith et al. 2024", **opts):
    data = {"file": SimpleUploadedFile(name, text.encode()), "source_label": label, **opts}
    return client.post("/api/results/import", data, format="multipart")


def export(client, file_format: str = "csv") -> bytes:
    response = client.get(f"/api/results/export?format={file_format}&ordering=id")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_it_keeps_static_figures_on_the_artifact_with_their_provenance(signed_in, world):
    response = upload(signed_in, PAPER)
    assert response.status_code == 201, response.content
    quantized = Result.objects.get(pk=response.json()["ids"][0]).artifact
    assert (quantized.file_size, quantized.gzip_size, quantized.params) == (21000, 9000, 61706)
    assert (quantized.nonzero_params, quantized.macs) == (30853, 416520)
    assert (quantized.sp_bits, quantized.sf_bits) == (246824, 1024)
    # New artifact: figures but no files, the plan's export mode, imported static figures.
    assert quantized.status == Artifact.Status.IMPORTED and not quantized.tflite_file
    assert quantized.export_mode == "int8"
    assert quantized.static_metrics["imported"]["source_label"] == "Smith et al. 2024"
    assert "file_size" in quantized.static_metrics["imported"]["figures"]
    body = signed_in.get(f"/api/results/{response.json()['ids'][0]}/").json()
    assert body["static"]["file_size"] == 21000
    assert body["figure_sources"]["static"]["file_size"] == "imported (Smith et al. 2024)"
    assert body["figure_sources"]["latency"] == "imported (Smith et al. 2024)"
    assert body["latency"]["stable"] is None  # the paper said nothing about stability


def test_it_fills_a_stored_artifacts_missing_figures_but_refuses_a_conflicting_one(
    signed_in, world
):
    # The world's baseline lenet artifact has file_size 240,000 (from its file) and no MACs.
    text = "model,device,plan,latency_mean_ms,file_size,macs\nlenet,laptop,baseline,3.0,{},416520\n"
    conflict = upload(signed_in, text.format(999))
    assert conflict.status_code == 400
    error = conflict.json()["errors"][0]
    assert (error["row"], error["column"]) == (1, "file_size") and "240000" in error["message"]
    assert Artifact.objects.get(plan=world.baseline, model=world.lenet).macs is None
    fine = upload(signed_in, text.format(240000))
    assert fine.status_code == 201, fine.content
    artifact = Artifact.objects.get(plan=world.baseline, model=world.lenet)
    assert (artifact.file_size, artifact.macs, artifact.status) == (240_000, 416520, "ready")
    assert artifact.static_metrics["imported"]["figures"] == ["macs"]  # file_size stays measured


def test_it_refuses_two_rows_giving_one_artifact_different_sizes(signed_in, world):
    text = (
        "model,device,plan,threads,latency_mean_ms,file_size\n"
        "lenet,laptop,W3(s=0.3)@fc1,1,1.0,5000\nlenet,laptop,W3(s=0.3)@fc1,2,0.8,5001\n"
    )
    before = (Result.objects.count(), Artifact.objects.count())
    response = upload(signed_in, text)
    assert response.status_code == 400
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(2, "file_size")]
    assert (Result.objects.count(), Artifact.objects.count()) == before


def _frame(data: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    return frame.drop(columns=sorted(NOT_ROUND_TRIPPED & set(frame.columns)))


@pytest.mark.parametrize("file_format, name", [("csv", "paper.csv"), ("json", "paper.jsonl")])
def test_it_round_trips_every_column_of_an_export_exactly(signed_in, world, file_format, name):
    assert upload(signed_in, PAPER).status_code == 201
    first = export(signed_in, file_format)
    # Empty the database of results and artifacts, then import the export back.
    Job.objects.all().delete()
    Result.objects.all().delete()
    Artifact.objects.all().delete()
    response = upload(signed_in, first.decode(), name=name, label="round trip")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 6 and response.json()["duplicates"] == []
    second = export(signed_in, file_format)
    if file_format == "csv":
        pd.testing.assert_frame_equal(_frame(first), _frame(second))
    else:
        rows = [[json.loads(line) for line in data.splitlines()] for data in (first, second)]
        strip = [
            [{k: v for k, v in r.items() if k not in NOT_ROUND_TRIPPED} for r in rs] for rs in rows
        ]
        assert strip[0] == strip[1] and len(strip[0]) == 6


def test_it_reports_identical_rows_as_duplicates_and_stores_them_once(signed_in, world):
    assert upload(signed_in, PAPER).status_code == 201
    before = Result.objects.count()
    again = upload(signed_in, PAPER + PAPER.splitlines()[1] + "\n", label="same paper again")
    assert again.status_code == 200, again.content
    body = again.json()
    assert body["created"] == 0 and Result.objects.count() == before
    assert [d["row"] for d in body["duplicates"]] == [1, 2, 3]
    assert all(d["result"] for d in body["duplicates"])  # each names the stored result
    twice = "model,device,plan,latency_mean_ms\n" + "lenet,laptop,W3(s=0.1)@fc1,1.25\n" * 2
    within = upload(signed_in, twice).json()
    assert within["created"] == 1 and within["duplicates"][0]["same_as_row"] == 1
    before += 1
    refused = upload(signed_in, PAPER, on_duplicate="error")
    assert refused.status_code == 400 and {e["column"] for e in refused.json()["errors"]} == {"row"}
    kept = upload(signed_in, PAPER, on_duplicate="keep")
    assert kept.status_code == 201 and Result.objects.count() == before + 2


def test_it_refuses_a_bad_duplicate_option(signed_in, world):
    response = upload(signed_in, PAPER, on_duplicate="merge")
    assert response.status_code == 400
    assert [e["column"] for e in response.json()["errors"]] == ["on_duplicate"]


def test_it_refuses_an_export_mode_the_plan_does_not_have(signed_in, world):
    text = (
        "model,device,plan,export_mode,latency_mean_ms\n"
        "lenet,laptop,W3(s=0.2)@fc1 + Q-int8,float32,1\n"
    )
    response = upload(signed_in, text)
    assert response.status_code == 400
    assert "exports as int8" in response.json()["errors"][0]["message"]


def test_it_answers_deep_json_and_huge_integers_with_a_400(signed_in, world):
    row = {"model": "lenet", "device": "laptop", "plan": "baseline", "latency_mean_ms": 1.0}
    deep = json.dumps([{**row, "op_breakdown": json.loads("[" * 50 + "]" * 50)}])
    assert upload(signed_in, deep, name="deep.json").status_code == 400
    very_deep = "[" * 100_000 + "]" * 100_000
    answer = upload(signed_in, very_deep, name="very-deep.json")
    assert answer.status_code == 400 and "nested" in answer.json()["errors"][0]["message"]
    huge = json.dumps([row]).replace('"latency_mean_ms": 1.0', '"runs": ' + "9" * 400)
    answer = upload(signed_in, huge, name="huge.json")
    assert answer.status_code == 400 and answer.json()["errors"][0]["column"] == "runs"
    assert Result.objects.filter(source="imported").count() == 0


def test_it_creates_missing_reference_models_and_external_devices_when_asked(signed_in, world):
    text = (
        "model,dataset,device,plan,latency_mean_ms,accuracy\n"
        "resnet-paper,cifar10,pixel-9,baseline,12.5,0.93\n"
    )
    refused = upload(signed_in, text)
    assert refused.status_code == 400 and Device.objects.filter(name="pixel-9").count() == 0
    response = upload(signed_in, text, create_missing="true")
    assert response.status_code == 201, response.content
    assert response.json()["created_models"] == ["resnet-paper"]
    assert response.json()["created_devices"] == ["pixel-9"]
    model, device = DNNModel.objects.get(name="resnet-paper"), Device.objects.get(name="pixel-9")
    assert model.is_reference and model.dataset == world.cifar
    assert device.kind == Device.Kind.EXTERNAL and device.is_external


def test_it_compresses_an_imported_artifact_when_a_job_needs_it(signed_in, world):
    response = upload(signed_in, PAPER)
    artifact = Result.objects.get(pk=response.json()["ids"][0]).artifact
    # lenet's stored file is not a real model: compression is attempted, and fails on it.
    with pytest.raises(actions.ArtifactFailed):
        actions.ensure_artifact_ready(artifact, owner="test", in_child=False)
    artifact.refresh_from_db()
    assert artifact.status == Artifact.Status.FAILED and artifact.error
    assert Plan.objects.filter(canonical="W3(s=0.5)@fc1 + Q-int8").exists()


def test_it_documents_the_import_columns_units_and_options(signed_in):
    schema = signed_in.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/results/import"]["post"]
    for words in ("file_size, gzip_size (bytes)", "fractions 0..1", "on_duplicate", "external"):
        assert words in operation["description"]
    assert operation["summary"].startswith("Import results measured elsewhere")
