"""Export: one flat row per result in CSV, JSON Lines or Parquet, streamed, same filters."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.http import StreamingHttpResponse

from measurements.figures import FIGURES
from measurements.models import Result
from webapp.api import export, export_copy

pytestmark = pytest.mark.django_db


def body_of(response) -> bytes:
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def awkward_figures(world) -> None:
    """Give every result figures whose decimal forms are long (thirds, tiny, huge)."""
    rng = np.random.default_rng(7)
    for result in world.results.values():
        Result.objects.filter(pk=result.pk).update(
            latency_mean_ms=float(rng.random() * 10 / 3),
            latency_median_ms=float(rng.random() / 3),
            latency_p90_ms=1e-300 * float(rng.random()),
            latency_std_ms=float(rng.random()) * 1e12,
            latency_ci95_ms=0.1 + 0.2,
            runs=int(rng.integers(10, 1000)),
            init_ms=float(rng.random()),
            energy_mj=float(rng.random() * 7),
            avg_power_w=float(rng.random() * 15),
            peak_memory_bytes=2**53 + int(rng.integers(1, 1000)),  # beyond a float's integers
            accuracy=float(rng.random()),
            precision=float(rng.random()),
            recall=float(rng.random()),
            f1=float(rng.random()),
            op_breakdown={"CONV_2D": float(rng.random() / 7)},
        )


def test_it_round_trips_every_figure_exactly_through_pandas_read_csv(reader, world):
    awkward_figures(world)
    response = reader.get("/api/results/export?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="results.csv"' in response["Content-Disposition"]
    frame = pd.read_csv(io.BytesIO(body_of(response)), dtype={"peak_memory_bytes": "Int64"})
    assert len(frame) == 4
    for row in frame.itertuples():
        result = Result.objects.select_related("artifact__model", "device").get(pk=row.id)
        for name in FIGURES:
            stored, exported = getattr(result, name), getattr(row, name)
            if stored is None:
                assert pd.isna(exported), name
            elif name == "op_breakdown":
                assert json.loads(exported) == stored
            elif isinstance(stored, str):
                assert (exported if isinstance(exported, str) else "") == stored, name
            else:
                assert exported == stored, name  # exact: no rounding on the way
        assert row.model == result.artifact.model.name and row.device == result.device.name
        assert row.energy_measured == result.energy_measured


def test_it_writes_identity_columns_and_technique_codes(reader, world):
    frame = pd.read_csv(io.BytesIO(body_of(reader.get("/api/results/export"))))
    row = frame.set_index("id").loc[world.results["int8"].pk]
    assert (row.model, row.dataset, row.device, row.threads) == ("lenet", "digits", "jetson-tx2", 4)
    assert row.plan == "W3(s=0.6)@fc1 + Q-int8" and row.techniques == "W3+Q-int8"
    assert (row.source, row.file_size, row.job) == ("measured", 30_000, world.jobs["int8"].pk)
    assert row.energy_measured == False  # noqa: E712 (a numpy bool)
    assert frame.set_index("id").loc[world.results["base"].pk].energy_method == "rapl"


def test_it_exports_only_what_the_filters_select(reader, world):
    url = f"/api/results/export?device={world.jetson.pk}&technique=W3"
    frame = pd.read_csv(io.BytesIO(body_of(reader.get(url))))
    assert frame["id"].tolist() == [world.results["int8"].pk]
    empty = pd.read_csv(
        io.BytesIO(body_of(reader.get("/api/results/export?category=pruning&model=999")))
    )
    assert len(empty) == 0 and "latency_mean_ms" in empty.columns


def test_it_exports_json_lines_with_exact_floats(reader, world):
    awkward_figures(world)
    response = reader.get("/api/results/export?format=json")
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in body_of(response).decode().splitlines()]
    assert len(rows) == 4
    for row in rows:
        result = Result.objects.get(pk=row["id"])
        assert row["latency_std_ms"] == result.latency_std_ms
        assert row["peak_memory_bytes"] == result.peak_memory_bytes
        assert row["created_at"] == result.created_at.isoformat()


def test_it_exports_parquet_one_row_group_per_chunk(reader, world, monkeypatch):
    awkward_figures(world)
    monkeypatch.setattr(export, "CHUNK_ROWS", 3)
    response = reader.get("/api/results/export?format=parquet&ordering=id")
    parquet = pq.ParquetFile(io.BytesIO(body_of(response)))
    assert parquet.metadata.num_row_groups == 2  # 4 rows in chunks of 3
    table = parquet.read().to_pandas()
    assert table["id"].tolist() == sorted(r.pk for r in world.results.values())
    for row in table.itertuples():
        result = Result.objects.get(pk=row.id)
        assert row.latency_p90_ms == result.latency_p90_ms and row.f1 == result.f1
        assert row.created_at == result.created_at


def test_it_streams_in_chunks_rather_than_building_the_whole_file(reader, world, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_ROWS", 1)
    monkeypatch.setattr(export_copy, "PART_BYTES", 1)  # PostgreSQL: one part per COPY block
    response = reader.get("/api/results/export?format=csv")
    parts = list(response.streaming_content)
    # One part per row (pandas: the header in the first; COPY: the header alone first).
    assert len(parts) == (5 if export_copy.supported(Result.objects.all()) else 4)
    assert parts[0].startswith(b"id,model,") and not parts[1].startswith(b"id,")
    assert all(part.count(b"\n") == 1 for part in parts[1:])


def test_it_pulls_chunks_through_an_async_iterator_under_asgi(world):
    from asgiref.sync import async_to_sync
    from django.test import AsyncRequestFactory

    request = AsyncRequestFactory().get("/api/results/export")
    parts = iter([b"a", b"b"])
    streamed = export.stream(parts, request)
    assert hasattr(streamed, "__aiter__")

    async def collect():
        return [part async for part in streamed]

    assert async_to_sync(collect)() == [b"a", b"b"]


@pytest.mark.parametrize(
    "query, parameter",
    [("format=xlsx", "format"), ("model=x", "model"), ("ordering=nope", "ordering"), ("x=1", "x")],
)
def test_it_answers_a_bad_export_parameter_with_a_json_400(reader, world, query, parameter):
    response = reader.get(f"/api/results/export?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert parameter in response.json()


def test_it_escapes_formula_like_text_in_every_csv_and_imports_it_back(signed_in, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from measurements.models import Device
    from tests.webapp.dashboard.helpers_analysis import logged_in

    Device.objects.filter(pk=world.laptop.pk).update(name="=HYPERLINK(1)")
    Result.objects.filter(pk=world.results["base"].pk).update(source_label="@SUM(A1)")
    body = body_of(signed_in.get("/api/results/export?format=csv&ordering=id"))
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    assert set(frame["device"]) == {"'=HYPERLINK(1)", "jetson-tx2"}
    assert "'@SUM(A1)" in set(frame["source_label"])
    assert not any(cell.startswith(("=", "+", "@")) for cell in frame.to_numpy().ravel())
    compare = logged_in().get(f"/compare.csv?dataset={world.digits.pk}")  # the dashboard's CSV
    assert compare.status_code == 200 and b"'=HYPERLINK(1)" in compare.content
    assert b"\n=" not in compare.content and b",=" not in compare.content
    upload = {
        "file": SimpleUploadedFile("back.csv", body),
        "on_duplicate": "keep",
        "source_label": "lab",
    }
    answer = signed_in.post("/api/results/import", upload, format="multipart")
    assert answer.status_code == 201, answer.content
    copy = Result.objects.filter(source="imported", source_label="@SUM(A1)").get()
    assert copy.device.name == "=HYPERLINK(1)"  # the quote came off on the way in


def test_it_writes_the_same_csv_through_copy_as_through_pandas(world):
    # PostgreSQL formats the CSV itself (COPY); elsewhere pandas does: the same file either way.
    awkward_figures(world)
    rows = Result.objects.order_by("pk")
    pandas_text = b"".join(export.csv_parts(export.iter_chunks(rows)))
    if not export_copy.supported(rows):
        assert Result.objects.db == "default"  # SQLite: only the pandas writer applies
        return
    copy_text = b"".join(export_copy.copy_parts(rows, export.COLUMNS))

    def read(text: bytes) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(text), dtype=str, keep_default_na=False)

    pd.testing.assert_frame_equal(read(pandas_text), read(copy_text))


def test_it_yields_the_copy_header_before_the_query_runs(world):
    # First byte: the header must not wait for COPY's sort; no SQL may run before it is sent.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    awkward_figures(world)
    rows = Result.objects.order_by("pk")
    pandas_header = b"".join(export.csv_parts(export.iter_chunks(rows))).split(b"\n")[0]
    parts = export_copy.copy_parts(rows, export.COLUMNS)
    with CaptureQueriesContext(connection) as queries:
        first = next(parts)
    assert queries.captured_queries == []
    assert first == pandas_header + b"\n"
    parts.close()
