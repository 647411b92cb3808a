"""POST /api/results/import: results measured elsewhere, all rows or none.

The checking and writing live in ``measurements.imports``; this view only
reads the upload, picks the format from the file name and answers.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from measurements.import_rows import ImportOptions, ImportRefused
from measurements.imports import MAX_IMPORT_BYTES, MAX_PROBLEMS_LISTED, import_results
from webapp.api import inputs

# File name ending -> the reader measurements.imports uses.
FORMAT_BY_SUFFIX = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
FORMAT_BY_MEDIA_TYPE = {"text/csv": "csv", "application/json": "json"}


IMPORT_DESCRIPTION = """Import a CSV, JSON array or JSON Lines file of results; a file with
any bad row is refused whole (400, every problem by row and column).

Columns: model, device, plan (required); threads, source_label, dataset, architecture,
export_mode; the figures latency_*_ms, init_ms, first_inference_ms (milliseconds),
energy_mj (millijoules per inference), avg_power_w (watts), peak_memory_bytes (bytes),
accuracy, precision, recall, f1 (fractions 0..1), runs, stop_reason, stable,
energy_measured, energy_method, accuracy_method, op_breakdown (JSON op type -> ms),
op_breakdown_method; and the artifact's static figures file_size, gzip_size (bytes),
params, nonzero_params, macs (counts), sp_bits, sf_bits (bits), kept on the artifact and
labelled imported (a value conflicting with the stored one is a row error). An export's
id, job, techniques, source, static_source and created_at columns are ignored.

on_duplicate: skip (default; identical rows are listed under duplicates, not stored),
error (refuse the file) or keep. create_missing: unknown devices become external
devices, unknown models reference models (no file; needs the dataset column).
Every imported figure is labelled "imported (source label)"; see README "Import results".
"""


class ResultImportView(APIView):
    """Import a CSV or JSON file of results; a file with any bad row is refused whole."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="results_import",
        summary="Import results measured elsewhere (a paper's table, another lab's CSV).",
        description=IMPORT_DESCRIPTION,
        request={"multipart/form-data": inputs.ImportUploadSerializer},
        responses={
            201: inputs.ImportedSerializer,
            200: OpenApiResponse(
                inputs.ImportedSerializer, description="Every row was a duplicate: none stored."
            ),
            400: OpenApiResponse(
                inputs.ImportRefusedSerializer,
                description="Refused whole: every problem by row number; nothing was written.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        form = inputs.ImportUploadSerializer(data=request.data)
        if not form.is_valid():  # the documented 400 shape, not DRF's field -> messages
            return _refused([_problem(field, m) for field, ms in form.errors.items() for m in ms])
        upload = form.validated_data["file"]
        file_format = file_format_of(upload.name, getattr(upload, "content_type", ""))
        if file_format is None:
            return _refused_file(f"Name the file .csv, .json or .jsonl. Received: {upload.name!r}")
        if upload.size > MAX_IMPORT_BYTES:  # before reading it into memory
            return _refused_file(f"The file is over {MAX_IMPORT_BYTES} bytes; split it.")
        options = ImportOptions(
            source_label=form.validated_data["source_label"],
            on_duplicate=form.validated_data["on_duplicate"],
            create_missing=form.validated_data["create_missing"],
        )
        try:
            report = import_results(upload.read(), file_format, options)
        except ImportRefused as refused:
            return _refused([p.as_dict() for p in refused.problems])
        # 200 when every row was a duplicate: nothing new was created.
        code = status.HTTP_201_CREATED if report.created else status.HTTP_200_OK
        return Response(report.as_dict(), status=code)


def file_format_of(name: str, media_type: str) -> str | None:
    """Tell "csv" or "json" from the file name, else from its media type; None if neither says."""
    for suffix, file_format in FORMAT_BY_SUFFIX.items():
        if name.lower().endswith(suffix):
            return file_format
    return FORMAT_BY_MEDIA_TYPE.get(media_type.split(";")[0].strip())


def _problem(column: str, message: str) -> dict:
    return {"row": None, "column": column, "message": str(message)}


def _refused_file(message: str) -> Response:
    return _refused([{"row": None, "column": "file", "message": message}])


def _refused(problems: list[dict]) -> Response:
    shown = problems[:MAX_PROBLEMS_LISTED]
    more = len(problems) - len(shown)
    detail = f"The file was refused: {len(problems)} problem(s); nothing was written."
    if more:
        detail += f" The first {len(shown)} are listed."
    return Response({"detail": detail, "errors": shown}, status=status.HTTP_400_BAD_REQUEST)
