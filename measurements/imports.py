"""Import results measured elsewhere (another lab's CSV, a paper's table).

The workflow is all or nothing: ``read_rows`` turns a CSV or JSON file into
rows, ``validate_rows`` checks every row and collects every problem (row
number, column, reason) before anything is written, and ``write_rows`` stores
all rows in one transaction. A file with any bad row is refused whole.

Columns: ``device`` and ``model`` (names of existing rows), ``plan`` (a plan's
text; stored in canonical form), optional ``threads`` and ``source_label``, and
any subset of the figures in ``measurements.figures.FIGURES``.
The identifying columns an export adds (``dataset``, ``techniques``, …) are
accepted and ignored, so an exported file imports back. Rows are numbered from
1, the header not counted.

The plan parser lives in the compression library (TensorFlow), so it is
imported inside ``validate_rows``, never at module import.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import transaction

from measurements.actions import get_or_create_plan
from measurements.figures import (
    FIGURES,
    MAX_SMALL_INT,
    MEASURES,
    as_text,
    has_nul,
    parse_count,
    parse_figure,
)
from measurements.models import Artifact, Device, DNNModel, Result

# Import files are read whole to validate every row before writing: keep them bounded.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_PROBLEMS_LISTED = 200
IMPORTED_METHOD = "not stated (imported)"
REQUIRED_COLUMNS = ("device", "model", "plan")
OPTIONAL_COLUMNS = ("threads", "source_label")
# Columns an export writes that identify or describe rather than measure: ignored here.
IGNORED_COLUMNS = frozenset(
    {
        "id",
        "job",
        "dataset",
        "architecture",
        "techniques",
        "source",
        "created_at",
        "export_mode",
        "params",
        "nonzero_params",
        "sp_bits",
        "sf_bits",
        "macs",
        "file_size",
        "gzip_size",
    }
)


@dataclass(frozen=True)
class Problem:
    """Why a file or one of its rows was refused (row None: the whole file)."""

    row: int | None
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The problem as JSON-ready data."""
        return {"row": self.row, "column": self.column, "message": self.message}


class ImportRefused(ValueError):
    """The file was refused; ``problems`` lists every reason, and nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"Import refused: {len(problems)} problem(s); nothing was written.")


@dataclass(frozen=True)
class ValidRow:
    """A row that passed validation, ready to store."""

    model: DNNModel
    device: Device
    plan_text: str
    threads: int
    source_label: str
    figures: dict[str, Any]


def import_results(data: bytes, file_format: str, source_label: str = "") -> list[Result]:
    """Read, validate and store a file of results: every row, or none.

    Args:
        data: the file's bytes.
        file_format: "csv" or "json" (an array of objects, or JSON Lines).
        source_label: the label of rows that do not carry their own.

    Returns:
        The created Results, in file order.

    Raises:
        ImportRefused: the file or any row is invalid; nothing was written.
    """
    return write_rows(validate_rows(read_rows(data, file_format), source_label))


def read_rows(data: bytes, file_format: str) -> list[dict[str, Any]]:
    """Rows of a CSV or JSON file as dicts; CSV values stay text (validated later).

    Raises:
        ImportRefused: the file is too large, not in the format, or has no rows.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise _refuse(f"The file is over {MAX_IMPORT_BYTES} bytes; split it.")
    readers: dict[str, Callable[[bytes], list[dict[str, Any]]]] = {
        "csv": _read_csv,
        "json": _read_json,
    }
    if file_format not in readers:
        raise _refuse(f"The format must be csv or json. Received: format={file_format!r}")
    try:
        rows = readers[file_format](data)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _refuse(f"The file is not readable {file_format}: {exc}") from exc
    if not rows:
        raise _refuse("The file has no rows.")
    # PostgreSQL stores no NUL character; say where one is rather than fail at the insert.
    problems = [
        Problem(number, str(column), "Contains a NUL character.")
        for number, row in enumerate(rows, start=1)
        for column, value in row.items()
        if has_nul(column) or has_nul(value)
    ]
    if problems:
        raise ImportRefused(problems)
    return rows


def _read_csv(data: bytes) -> list[dict[str, Any]]:
    # Every value as text: numbers are parsed (and checked) here, not guessed by pandas.
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8")
    return frame.to_dict("records")


def _read_json(data: bytes) -> list[dict[str, Any]]:
    text = data.decode("utf-8").strip()
    if text.startswith("["):
        rows = json.loads(text)
    else:  # JSON Lines, as the export writes
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError("each row must be a JSON object")
    return rows


def _refuse(message: str) -> ImportRefused:
    return ImportRefused([Problem(None, "file", message)])


def validate_rows(rows: list[dict[str, Any]], source_label: str = "") -> list[ValidRow]:
    """Check every row; return them all, or raise listing every problem.

    Raises:
        ImportRefused: with one Problem per bad value, by row number.
    """
    problems = _check_columns(rows)
    if problems:
        raise ImportRefused(problems)
    models = DNNModel.objects.in_bulk({as_text(r.get("model")) for r in rows}, field_name="name")
    devices = Device.objects.in_bulk({as_text(r.get("device")) for r in rows}, field_name="name")
    plan_problems = _check_plans({as_text(r.get("plan")) for r in rows})
    valid = []
    for number, row in enumerate(rows, start=1):
        found: list[Problem] = []
        report = _reporter(number, found)
        model = _lookup(models, row, "model", report)
        device = _lookup(devices, row, "device", report)
        plan_text = as_text(row.get("plan"))
        if plan_text in plan_problems:
            report("plan", plan_problems[plan_text])
        threads = _threads(row.get("threads"), report)
        label = as_text(row.get("source_label")) or source_label.strip()
        if not label:
            report("source_label", "Say where the row comes from (column or form field).")
        elif len(label) > 200:
            report("source_label", f"At most 200 characters. Received: {len(label)}")
        figures = _figures(row, report)
        problems.extend(found)
        if not found:
            valid.append(ValidRow(model, device, plan_text, threads, label, figures))
    if problems:
        raise ImportRefused(problems)
    return valid


def _check_columns(rows: list[dict[str, Any]]) -> list[Problem]:
    columns = {str(c) for row in rows for c in row}
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *FIGURES, *IGNORED_COLUMNS}
    problems = [
        Problem(None, name, f"Unknown column. Importable: {', '.join(sorted(known))}.")
        for name in sorted(columns - known)
    ]
    problems += [
        Problem(None, name, "Required column missing.")
        for name in REQUIRED_COLUMNS
        if name not in columns
    ]
    return problems


def _check_plans(texts: Iterable[str]) -> dict[str, str]:
    """Problems by plan text: each distinct plan is parsed once."""
    from compression.plan import Plan as CompressionPlan

    problems = {}
    for text in texts:
        if not text:
            problems[text] = "Missing: give the plan's text, e.g. 'baseline' or 'W3(s=0.6)@fc1'."
            continue
        try:
            CompressionPlan.parse(text)
        except ValueError as exc:  # PlanSyntaxError, UnknownTechniqueError, bad parameter
            problems[text] = str(exc)
    return problems


def _reporter(number: int, found: list[Problem]) -> Callable[[str, str], None]:
    return lambda column, message: found.append(Problem(number, column, message))


def _lookup(rows: dict[str, Any], row: dict[str, Any], column: str, report: Callable) -> Any:
    name = as_text(row.get(column))
    if not name:
        report(column, f"Missing: give the {column}'s name.")
    elif name not in rows:
        report(column, f"No {column} is called {name!r}; register it first.")
    return rows.get(name)


def _threads(value: Any, report: Callable[[str, str], None]) -> int:
    if as_text(value) == "":
        return 1
    try:
        threads = parse_count(value, MAX_SMALL_INT)
    except ValueError as exc:
        report("threads", str(exc))
        return 1
    if threads < 1:
        report("threads", f"At least 1. Received: {value!r}")
    return threads


def _figures(row: dict[str, Any], report: Callable[[str, str], None]) -> dict[str, Any]:
    figures = {}
    for name, figure in FIGURES.items():
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            figures[name] = parse_figure(figure, value)
        except ValueError as exc:
            report(name, str(exc))
    if not any(name in row and as_text(row[name]) for name in MEASURES):
        report("figures", f"No figure given; give at least one of {', '.join(MEASURES)}.")
    return figures


def write_rows(rows: list[ValidRow]) -> list[Result]:
    """Store validated rows in one transaction: Plans and Artifacts as needed, then Results.

    Returns:
        The created Results, in row order.
    """
    from compression.plan import Plan as CompressionPlan

    with transaction.atomic():
        plans = {
            text: get_or_create_plan(CompressionPlan.parse(text))
            for text in dict.fromkeys(r.plan_text for r in rows)
        }
        artifacts: dict[tuple[int, int], Artifact] = {}
        for row in rows:
            key = (row.model.pk, plans[row.plan_text].pk)
            if key not in artifacts:
                artifacts[key], _ = Artifact.objects.get_or_create(
                    model=row.model,
                    plan=plans[row.plan_text],
                    defaults={"status": Artifact.Status.READY},
                )
        results = [
            Result(
                artifact=artifacts[(row.model.pk, plans[row.plan_text].pk)],
                device=row.device,
                num_threads=row.threads,
                source=Result.Source.IMPORTED,
                source_label=row.source_label,
                **_with_methods(row.figures),
            )
            for row in rows
        ]
        return Result.objects.bulk_create(results, batch_size=1000)


def _with_methods(figures: dict[str, Any]) -> dict[str, Any]:
    # Every figure says how it was obtained; an import that does not say is marked so.
    filled = dict(figures)
    if "energy_mj" in filled and not filled.get("energy_method"):
        filled["energy_method"] = IMPORTED_METHOD
    quality = ("accuracy", "precision", "recall", "f1")
    if any(name in filled for name in quality) and not filled.get("accuracy_method"):
        filled["accuracy_method"] = IMPORTED_METHOD
    return filled
