"""Import: results measured elsewhere, validated row by row, stored all or nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements import import_store, imports
from measurements.models import Artifact, Plan, Result

pytestmark = pytest.mark.django_db

GOOD_CSV = """device,model,plan,threads,latency_mean_ms,energy_mj,accuracy,peak_memory_bytes
laptop,lenet,W3(s=0.6)@fc1,2,1.3333333333333333,0.25,0.9712,4096
jetson-tx2,alexnet,C2@conv2 + W3(s=0.5)@fc1,,7.5,,0.81,
"""


def upload(client, name: str, text: str, label: str = "Smith et al. 2024, table 3", **options):
    data = {"file": SimpleUploadedFile(name, text.encode()), "source_label": label, **options}
    return client.post("/api/results/import", data, format="multipart")


def counts() -> tuple[int, int, int]:
    return Result.objects.count(), Artifact.objects.count(), Plan.objects.count()


def test_it_imports_a_good_csv_marking_the_source(signed_in, world):
    before = Result.objects.count()
    response = upload(signed_in, "paper.csv", GOOD_CSV)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2
    assert Result.objects.count() == before + 2
    first, second = (Result.objects.get(pk=pk) for pk in response.json()["ids"])
    assert (first.source, first.source_label) == ("imported", "Smith et al. 2024, table 3")
    assert first.device == world.laptop and first.artifact.model == world.lenet
    assert first.artifact.plan == world.pruned  # the existing plan row, found by its hash
    assert (first.num_threads, first.latency_mean_ms) == (2, 1.3333333333333333)
    assert (first.energy_mj, first.energy_measured) == (0.25, False)
    assert first.energy_method == ""  # not stated: the row is labelled imported, not invented
    assert (first.accuracy, first.peak_memory_bytes, first.job) == (0.9712, 4096, None)
    assert second.num_threads == 1 and second.energy_mj is None and second.energy_method == ""
    assert second.artifact.plan.canonical == "C2@conv2 + W3(s=0.5)@fc1"
    # Figures but no files: a later job for this plan compresses it (never "ready" without files).
    assert second.artifact.status == "imported" and not second.artifact.tflite_file


def test_it_refuses_a_file_with_any_bad_row_and_writes_nothing(signed_in, world):
    bad = GOOD_CSV + (
        "laptop,lenet,W3(s=0.6)@fc1,1,-2.0,,,\n"  # negative latency
        "toaster,lenet,W3(s=0.6)@fc1,1,1.0,,,\n"  # unknown device
        "laptop,resnet,W3(s=2)@fc1,1,1.0,,1.5,\n"  # unknown model, bad plan, accuracy > 1
        "laptop,lenet,W3@fc1 +,1,abc,,,\n"  # plan syntax, not a number
        "laptop,lenet,baseline,0,1.0,,,\n"  # threads < 1
    )
    before = counts()
    response = upload(signed_in, "paper.csv", bad)
    assert response.status_code == 400
    body = response.json()
    assert "nothing was written" in body["detail"]
    found = {(e["row"], e["column"]) for e in body["errors"]}
    assert found == {
        (3, "latency_mean_ms"),
        (4, "device"),
        (5, "model"),
        (5, "plan"),
        (5, "accuracy"),
        (6, "plan"),
        (6, "latency_mean_ms"),
        (7, "threads"),
    }
    reasons = {(e["row"], e["column"]): e["message"] for e in body["errors"]}
    assert "toaster" in reasons[(4, "device")] and ">= 0" in reasons[(3, "latency_mean_ms")]
    assert counts() == before  # not even the two good rows, nor their plan and artifact


def test_it_refuses_unknown_and_missing_columns(signed_in, world):
    response = upload(signed_in, "paper.csv", "device,model,latncy_ms\nlaptop,lenet,1.0\n")
    assert response.status_code == 400
    columns = {e["column"] for e in response.json()["errors"]}
    assert columns == {"latncy_ms", "plan"}
    assert Result.objects.count() == 4


def test_it_refuses_a_row_without_any_figure_or_label(signed_in, world):
    text = "device,model,plan,latency_mean_ms\nlaptop,lenet,baseline,\n"
    response = upload(signed_in, "paper.csv", text, label="")
    columns = {e["column"] for e in response.json()["errors"]}
    assert response.status_code == 400 and columns == {"figures", "source_label"}


def test_it_imports_json_arrays_with_typed_values(signed_in, world):
    rows = [
        {
            "device": "jetson-tx2",
            "model": "lenet",
            "plan": "baseline",
            "threads": 4,
            "latency_mean_ms": 0.5,
            "energy_mj": 0.1,
            "energy_measured": True,
            "energy_method": "INA3221 at 1 kHz",
            "op_breakdown": {"CONV_2D": 0.3},
            "source_label": "lab B",
        }
    ]
    response = upload(signed_in, "lab-b.json", json.dumps(rows), label="")
    assert response.status_code == 201, response.content
    result = Result.objects.get(pk=response.json()["ids"][0])
    assert (result.energy_measured, result.energy_method) == (True, "INA3221 at 1 kHz")
    assert result.op_breakdown == {"CONV_2D": 0.3} and result.source_label == "lab B"
    assert result.artifact == world.results["base"].artifact


def test_it_refuses_json_values_of_the_wrong_type(signed_in, world):
    rows = [{"device": "laptop", "model": "lenet", "plan": "baseline", "latency_mean_ms": True}]
    response = upload(signed_in, "x.json", json.dumps(rows))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "row": 1,
        "column": "latency_mean_ms",
        "message": "Not a number. Received: True",
    }


def test_it_refuses_unreadable_big_and_unknown_files(signed_in, world, monkeypatch):
    assert upload(signed_in, "x.json", "{not json").status_code == 400
    assert upload(signed_in, "x.csv", "").status_code == 400
    refused = upload(signed_in, "table.xlsx", "device,model,plan\n")
    assert refused.status_code == 400 and refused.json()["errors"][0]["column"] == "file"
    monkeypatch.setattr("webapp.api.result_import.MAX_IMPORT_BYTES", 10)
    too_big = upload(signed_in, "big.csv", GOOD_CSV)
    assert too_big.status_code == 400 and "over 10 bytes" in too_big.json()["errors"][0]["message"]
    assert Result.objects.count() == 4


def test_it_imports_back_what_it_exported(signed_in, world):
    exported = b"".join(signed_in.get("/api/results/export?format=csv").streaming_content)
    response = upload(
        signed_in, "export.csv", exported.decode(), label="round trip", on_duplicate="keep"
    )
    assert response.status_code == 201, response.content
    assert Result.objects.count() == 8
    copies = Result.objects.filter(source="imported").order_by("latency_mean_ms")
    originals = Result.objects.filter(source="measured").order_by("latency_mean_ms")
    for copy, original in zip(copies, originals, strict=True):
        assert (copy.artifact_id, copy.device_id, copy.num_threads) == (
            original.artifact_id,
            original.device_id,
            original.num_threads,
        )
        assert (copy.latency_mean_ms, copy.accuracy, copy.energy_mj) == (
            original.latency_mean_ms,
            original.accuracy,
            original.energy_mj,
        )


def test_it_writes_nothing_when_the_database_fails_mid_import(signed_in, world, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    # Plans and artifacts are written first; the results' insert then fails.
    monkeypatch.setattr(Result.objects, "bulk_create", fail)
    before = counts()
    rows = imports.validate_rows(imports.read_rows(GOOD_CSV.encode(), "csv"), "x")
    with pytest.raises(RuntimeError):
        import_store.write_rows(rows)
    assert counts() == before


def test_it_lists_at_most_a_bounded_number_of_problems(signed_in, world):
    lines = "".join("laptop,lenet,baseline,-1\n" for _ in range(imports.MAX_PROBLEMS_LISTED + 5))
    response = upload(signed_in, "many.csv", "device,model,plan,latency_mean_ms\n" + lines)
    body = response.json()
    assert len(body["errors"]) == imports.MAX_PROBLEMS_LISTED
    assert str(imports.MAX_PROBLEMS_LISTED + 5) in body["detail"]


def test_it_reads_json_lines_as_the_export_writes_them():
    text = '{"device": "a", "model": "b"}\n\n{"device": "c", "model": "d"}\n'
    assert imports.read_rows(text.encode(), "json") == [
        {"device": "a", "model": "b"},
        {"device": "c", "model": "d"},
    ]
    assert imports.read_rows(io.BytesIO(b"a,b\n1,\n").read(), "csv") == [{"a": "1", "b": ""}]


def test_it_refuses_a_nul_character_postgresql_could_not_store(signed_in, world):
    row = {"device": "laptop", "model": "lenet", "plan": "baseline", "latency_mean_ms": 1}
    rows = [{**row, "stop_reason": "ci\u0000"}]
    response = upload(signed_in, "x.json", json.dumps(rows))
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "stop_reason"
    assert Result.objects.count() == 4


def test_it_keeps_large_counts_exact_and_reads_flags_and_whole_floats(signed_in, world):
    text = (
        "device,model,plan,runs,peak_memory_bytes,stable,energy_measured,energy_mj\n"
        "laptop,lenet,baseline,120.0,9007199254740993,no,YES,1e-3\n"
    )
    response = upload(signed_in, "counts.csv", text)
    assert response.status_code == 201, response.content
    result = Result.objects.get(pk=response.json()["ids"][0])
    assert result.peak_memory_bytes == 2**53 + 1  # a float would have rounded it
    assert (result.runs, result.stable, result.energy_measured) == (120, False, True)
    assert result.energy_mj == 0.001


@pytest.mark.parametrize(
    "column, value",
    [
        ("latency_mean_ms", "inf"),
        ("latency_mean_ms", "nan"),
        ("runs", "2.5"),
        ("runs", "-1"),
        ("peak_memory_bytes", "99999999999999999999"),
        ("stable", "maybe"),
        ("f1", "1.0000001"),
        ("op_breakdown", '{"CONV_2D": -1}'),
        ("stop_reason", "x" * 21),
    ],
)
def test_it_refuses_each_kind_of_bad_figure(signed_in, world, column, value):
    text = f"device,model,plan,latency_p90_ms,{column}\nlaptop,lenet,baseline,1.0,{value}\n"
    response = upload(signed_in, "bad.csv", text)
    assert response.status_code == 400
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(1, column)]
    assert Result.objects.count() == 4
