"""Export results as one flat row each: CSV, JSON Lines or Parquet, streamed.

What is streamed and what is buffered: the database is read through
``QuerySet.iterator(chunk_size=CHUNK_ROWS)`` (a server-side cursor on
PostgreSQL), ``CHUNK_ROWS`` rows at a time; each chunk is formatted and sent
before the next is read. So at most one chunk of rows, and its formatted
bytes, is in memory at once:

- CSV: one pandas DataFrame per chunk, written with ``to_csv`` (floats at
  full precision, so ``pandas.read_csv`` gets the same numbers back).
- JSON Lines: the stdlib ``json`` per row (pandas' ``to_json`` keeps at most
  15 significant digits, which would not give the same floats back).
- Parquet: pyarrow writes one row group per chunk into a small in-memory
  sink that is emptied after every row group; the footer (the row groups'
  offsets) is buffered by pyarrow until the end, as the format requires.

Under ASGI (daphne) the chunks are pulled through an async iterator, one
chunk per thread hop; Django would otherwise read a sync iterator whole into
a list before sending anything.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from measurements.figures import FIGURES, STATIC_FIGURES
from measurements.imports import FORMULA_STARTS as FORMULA_START_CHARS
from measurements.models import Plan, Result
from measurements.provenance import (
    IMPORTED,
    IMPORTED_STATIC_KEY,
    MEASURED,
    describe,
    imported_static,
)
from webapp.api import export_copy, filters
from webapp.api.serializers import plan_codes

CHUNK_ROWS = 5000


@dataclass(frozen=True)
class Column:
    """One column of the flat row.

    Attributes:
        name: the column's name.
        path: the Result lookup it is read from.
        kind: "int", "float", "bool", "text", "json" (read as the database's
            JSON text), "codes" (a plan id, written as its technique codes) or "time".
    """

    name: str
    path: str
    kind: str


_FIGURE_KIND = {"non_negative": "float", "fraction": "float", "count": "int", "flag": "bool"}
_FIGURE_KIND.update({"text": "text", "breakdown": "json"})
COLUMNS: tuple[Column, ...] = (
    Column("id", "pk", "int"),
    Column("model", "artifact__model__name", "text"),
    Column("architecture", "artifact__model__architecture", "text"),
    Column("dataset", "artifact__model__dataset__name", "text"),
    Column("plan", "artifact__plan__canonical", "text"),
    Column("techniques", "artifact__plan_id", "codes"),
    Column("device", "device__name", "text"),
    Column("threads", "num_threads", "int"),
    *(Column(f.name, f.name, _FIGURE_KIND[f.kind]) for f in FIGURES.values()),
    Column("export_mode", "artifact__export_mode", "text"),
    *(
        Column(name, f"artifact__{name}", "int")
        for name in ("params", "nonzero_params", "sp_bits", "sf_bits", "macs")
    ),
    Column("file_size", "artifact__file_size", "int"),
    Column("gzip_size", "artifact__gzip_size", "int"),
    Column("static_source", "artifact__static_metrics", "static_source"),
    Column("source", "source", "text"),
    Column("source_label", "source_label", "text"),
    Column("job", "job_id", "int"),
    Column("created_at", "created_at", "time"),
)
# pandas dtypes that keep integers integral next to missing values, and floats exact.
_PANDAS = {"int": "Int64", "float": "float64", "bool": "boolean"}  # boolean: None stays empty
_ARROW = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "time": pa.timestamp("us", tz="UTC"),
}
ARROW_SCHEMA = pa.schema([(c.name, _ARROW.get(c.kind, pa.string())) for c in COLUMNS])


CODES_AT = next(i for i, c in enumerate(COLUMNS) if c.kind == "codes")
STATIC_SOURCE_AT = next(i for i, c in enumerate(COLUMNS) if c.kind == "static_source")
STATIC_AT = tuple(i for i, c in enumerate(COLUMNS) if c.name in STATIC_FIGURES)
# Text cells a spreadsheet would run as a formula get a leading quote (OWASP's advice);
# the import takes it off again (measurements.imports.unescape_formula).
FORMULA_STARTS = tuple(FORMULA_START_CHARS)
TEXT_AT = tuple(i for i, c in enumerate(COLUMNS) if c.kind in ("text", "codes", "static_source"))


def iter_chunks(queryset: QuerySet, chunk_rows: int | None = None) -> Iterator[list[tuple]]:
    """The flat rows of ``queryset``, ``chunk_rows`` (default CHUNK_ROWS) at a time.

    Rows are read as value tuples, not model instances, and JSON columns as
    the text the database holds, never parsed here: most of the time per row
    otherwise goes to building objects and decoding JSON.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    as_text = {c.name for c in COLUMNS if c.kind in ("json", "static_source")}
    texts = {f"{c.name}_text": Cast(c.path, TextField()) for c in COLUMNS if c.name in as_text}
    paths = [f"{c.name}_text" if c.name in as_text else c.path for c in COLUMNS]
    rows = queryset.annotate(**texts).values_list(*paths).iterator(chunk_size=chunk_rows)
    codes = PlanCodes()
    while chunk := list(islice(rows, chunk_rows)):
        yield [_with_static_source(row) for row in codes.replace(chunk, CODES_AT)]


def _with_static_source(row: tuple) -> tuple:
    """The row with the artifact's static_metrics text replaced by where its statics came from."""
    metrics = row[STATIC_SOURCE_AT]
    if metrics and f'"{IMPORTED_STATIC_KEY}"' in metrics:  # parse only what can say imported
        imported = imported_static(json.loads(metrics))
        source = describe(IMPORTED, str(imported.get("source_label") or "source not named"))
    else:
        source = MEASURED if any(row[i] is not None for i in STATIC_AT) else ""
    return (*row[:STATIC_SOURCE_AT], source, *row[STATIC_SOURCE_AT + 1 :])


class PlanCodes(dict):
    """Plan id -> its technique codes joined by "+", read once per plan."""

    def replace(self, chunk: list[tuple], at: int) -> list[tuple]:
        """``chunk`` with the plan id at position ``at`` replaced by the plan's codes."""
        missing = {row[at] for row in chunk} - self.keys()
        if missing:
            steps = Plan.objects.filter(pk__in=missing).values_list("pk", "steps")
            self.update((pk, "+".join(plan_codes(plan_steps))) for pk, plan_steps in steps)
        return [(*row[:at], self[row[at]], *row[at + 1 :]) for row in chunk]


def csv_parts(chunks: Iterable[list[tuple]]) -> Iterator[bytes]:
    """CSV text, the header first (alone if there are no rows); formula-like text escaped."""
    header = True
    for chunk in chunks:
        yield (
            _frame([escape_row(row) for row in chunk])
            .to_csv(index=False, header=header)
            .encode("utf-8")
        )
        header = False
    if header:
        yield _frame([]).to_csv(index=False).encode("utf-8")


def escape_formula(value: Any) -> Any:
    """``value`` with a leading quote when it is text starting with = + - @ (or tab, CR)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def escape_row(row: tuple) -> tuple:
    """The row with every text cell escaped (escape_formula)."""
    if not any(isinstance(row[i], str) and row[i].startswith(FORMULA_STARTS) for i in TEXT_AT):
        return row
    return tuple(escape_formula(v) if i in TEXT_AT else v for i, v in enumerate(row))


def _frame(chunk: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(chunk, columns=[c.name for c in COLUMNS])
    for column in COLUMNS:
        if column.kind in _PANDAS:
            frame[column.name] = frame[column.name].astype(_PANDAS[column.kind])
        elif column.kind == "time":
            # One format whatever the database: microseconds always written.
            frame[column.name] = [
                moment.isoformat(timespec="microseconds") for moment in frame[column.name]
            ]
    return frame


def jsonl_parts(chunks: Iterable[list[tuple]]) -> Iterator[bytes]:
    """One JSON object per line; floats as Python's repr (exact), times as ISO 8601."""
    names = [c.name for c in COLUMNS]
    for chunk in chunks:
        lines = []
        for row in chunk:
            record = dict(zip(names, row, strict=True))
            record["created_at"] = record["created_at"].isoformat()
            lines.append(json.dumps(record, allow_nan=False))
        yield ("\n".join(lines) + "\n").encode("utf-8")


class _Drain:
    """A write-only file for pyarrow that hands out what was written since the last drain.

    ``tell`` counts every byte ever written, so the offsets pyarrow records in
    the Parquet footer stay right although the bytes have left.
    """

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._parts.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def parquet_parts(chunks: Iterable[list[tuple]]) -> Iterator[bytes]:
    """A Parquet file, one row group per chunk, sent as each row group is written."""
    sink = _Drain()
    with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), ARROW_SCHEMA) as writer:
        for chunk in chunks:
            columns = dict(zip(ARROW_SCHEMA.names, zip(*chunk, strict=True), strict=True))
            writer.write_table(pa.Table.from_pydict(columns, schema=ARROW_SCHEMA))
            yield sink.drain()
    yield sink.drain()  # the footer


# format -> (media type, file extension, writer)
FORMATS = {
    "csv": ("text/csv", "csv", csv_parts),
    "json": ("application/x-ndjson", "jsonl", jsonl_parts),
    "parquet": ("application/vnd.apache.parquet", "parquet", parquet_parts),
}


def stream(parts: Iterator[bytes], request: HttpRequest) -> Iterator[bytes] | AsyncIterator[bytes]:
    """``parts`` as the server can stream them: as they are under WSGI, async under ASGI."""
    if isinstance(request, ASGIRequest):
        return _pull(parts)
    return parts


async def _pull(parts: Iterator[bytes]) -> AsyncIterator[bytes]:
    # thread_sensitive: every chunk is read on the same thread, so by the same DB connection.
    step = sync_to_async(next, thread_sensitive=True)
    while (part := await step(parts, None)) is not None:
        yield part


class FormatIsTheFile(DefaultContentNegotiation):
    """Here ``?format=`` names the exported file's format, not a DRF renderer; errors are JSON."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        renderer = JSONRenderer()
        return renderer, renderer.media_type


EXPORT_PARAMETERS = [
    OpenApiParameter("format", str, enum=list(FORMATS), default="csv", description="File format."),
    *(p.openapi() for p in filters.RESULT_PARAMS),
    filters.ordering_param(filters.RESULT_ORDERING),
]


class ResultExportView(APIView):
    """Every result that matches the filters, one flat row each, streamed."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = FormatIsTheFile

    @extend_schema(
        operation_id="results_export",
        parameters=EXPORT_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
            (400, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The body names the bad parameter."
            ),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = request.query_params
        known = ["format", "ordering", *(p.name for p in filters.RESULT_PARAMS)]
        filters.check_known(query, known)
        file_format = query.get("format", "csv")
        if file_format not in FORMATS:
            raise ValidationError(
                {"format": [f"format must be one of {', '.join(FORMATS)}, got {file_format!r}."]}
            )
        rows = filters.apply_filters(Result.objects.order_by("pk"), query, filters.RESULT_PARAMS)
        rows = filters.apply_ordering(rows, query, filters.RESULT_ORDERING)
        media_type, extension, write = FORMATS[file_format]
        if file_format == "csv" and export_copy.supported(rows):
            parts = export_copy.copy_parts(rows, COLUMNS)  # PostgreSQL formats the rows
        else:
            parts = write(iter_chunks(rows))
        response = StreamingHttpResponse(stream(parts, request._request), content_type=media_type)
        response["Content-Disposition"] = f'attachment; filename="results.{extension}"'
        return response
