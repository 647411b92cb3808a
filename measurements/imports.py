"""Import results measured elsewhere (another lab's CSV, a paper's table).

The workflow is all or nothing: ``read_rows`` turns a CSV or JSON file into
rows, ``validate_rows`` checks every row and collects every problem (row
number, column, reason) before anything is written, and
``measurements.import_store.write_rows`` stores all rows in one transaction.
A file with any bad row is refused whole.

Columns: ``device`` and ``model`` (names of existing rows, or created as an
external device and a reference model with ``create_missing``), ``plan`` (a
plan's text; stored in canonical form), optional ``threads``,
``source_label`` and ``export_mode`` (checked against the plan's), the Result
figures of ``measurements.figures.FIGURES`` and the artifact's static figures
of ``measurements.figures.STATIC_FIGURES`` (kept on the artifact, labelled
imported; a value differing from the stored one is a row error). The
identifying columns an export adds (``dataset``, ``techniques``, ``id`` …)
are accepted, so an exported file imports back to the same figures. Rows are
numbered from 1, the header not counted.

The plan parser lives in the compression library (TensorFlow), so it is
imported inside ``validate_rows``, never at module import.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from measurements.figures import (
    FIGURES,
    MAX_SMALL_INT,
    MEASURES,
    STATIC_FIGURES,
    as_text,
    has_nul,
    parse_count,
    parse_figure,
)
from measurements.import_rows import (
    ImportOptions,
    ImportRefused,
    ImportReport,
    Problem,
    ValidRow,
)
from measurements.models import Dataset, Device, DNNModel

# Import files are read whole to validate every row before writing: keep them bounded.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_PROBLEMS_LISTED = 200
# A row is an object of figures; op_breakdown is the only nested value (depth 2).
MAX_JSON_DEPTH = 4
REQUIRED_COLUMNS = ("device", "model", "plan")
OPTIONAL_COLUMNS = ("threads", "source_label", "export_mode", "dataset", "architecture")
# Columns an export writes that identify rather than measure: accepted, not stored.
IGNORED_COLUMNS = frozenset({"id", "job", "techniques", "source", "static_source", "created_at"})
# What the CSV export prefixes to a text cell a spreadsheet would run as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def import_results(
    data: bytes, file_format: str, options: ImportOptions | str = ""
) -> ImportReport:
    """Read, validate and store a file of results: every row, or none.

    Args:
        data: the file's bytes.
        file_format: "csv" or "json" (an array of objects, or JSON Lines).
        options: an ImportOptions, or just the source label of rows without one.

    Returns:
        What was stored and what was skipped as a duplicate.

    Raises:
        ImportRefused: the file or any row is invalid; nothing was written.
    """
    from measurements.import_store import write_rows

    if isinstance(options, str):
        options = ImportOptions(source_label=options)
    return write_rows(validate_rows(read_rows(data, file_format), options), options)


def read_rows(data: bytes, file_format: str) -> list[dict[str, Any]]:
    """Rows of a CSV or JSON file as dicts; CSV values stay text (validated later).

    Raises:
        ImportRefused: the file is too large, not in the format, too deeply
            nested, or has no rows.
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
    except RecursionError:
        raise _refuse(
            f"The JSON is nested too deeply; rows nest at most {MAX_JSON_DEPTH}."
        ) from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _refuse(f"The file is not readable {file_format}: {exc}") from exc
    if not rows:
        raise _refuse("The file has no rows.")
    problems = [
        Problem(number, str(column), message)
        for number, row in enumerate(rows, start=1)
        for column, value in row.items()
        if (message := _value_problem(column, value))
    ]
    if problems:
        raise ImportRefused(problems)
    return rows


def _value_problem(column: Any, value: Any) -> str:
    if _depth(value) > MAX_JSON_DEPTH:
        return f"Nested more than {MAX_JSON_DEPTH} levels deep."
    # PostgreSQL stores no NUL character; say where one is rather than fail at the insert.
    if has_nul(column) or has_nul(value):
        return "Contains a NUL character."
    return ""


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (1 for a plain value); no recursion."""
    deepest, stack = 1, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _read_csv(data: bytes) -> list[dict[str, Any]]:
    # Every value as text: numbers are parsed (and checked) here, not guessed by pandas.
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8")
    return [{k: unescape_formula(v) for k, v in row.items()} for row in frame.to_dict("records")]


def unescape_formula(value: Any) -> Any:
    """A CSV cell without the quote the export puts before ``=``, ``+``, ``-``, ``@``."""
    if isinstance(value, str) and value[:1] == "'" and value[1:2] in FORMULA_STARTS:
        return value[1:]
    return value


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


def validate_rows(rows: list[dict[str, Any]], options: ImportOptions | str = "") -> list[ValidRow]:
    """Check every row; return them all, or raise listing every problem.

    Raises:
        ImportRefused: with one Problem per bad value, by row number.
    """
    from measurements import import_store

    if isinstance(options, str):
        options = ImportOptions(source_label=options)
    problems = _check_columns(rows)
    if problems:
        raise ImportRefused(problems)
    names = Names.read(rows)
    plans, plan_problems = _parse_plans({as_text(r.get("plan")) for r in rows})
    valid = []
    for number, row in enumerate(rows, start=1):
        found: list[Problem] = []
        report = _reporter(number, found)
        checked = _check_row(number, row, names, plans, plan_problems, options, report)
        problems.extend(found)
        if not found:
            valid.append(checked)
    if not problems:
        problems = import_store.check_against_stored(valid, plans, options)
    if problems:
        raise ImportRefused(problems)
    return valid


def _check_row(
    number: int,
    row: dict[str, Any],
    names: Names,
    plans: dict[str, Any],
    plan_problems: dict[str, str],
    options: ImportOptions,
    report: Callable[[str, str], None],
) -> ValidRow:
    model, dataset = names.model(row, options.create_missing, report)
    device = names.device(row, options.create_missing, report)
    plan_text = as_text(row.get("plan"))
    if plan_text in plan_problems:
        report("plan", plan_problems[plan_text])
    else:
        _check_export_mode(row, plans[plan_text], report)
    label = as_text(row.get("source_label")) or options.source_label.strip()
    if not label:
        report("source_label", "Say where the row comes from (column or form field).")
    elif len(label) > 200:
        report("source_label", f"At most 200 characters. Received: {len(label)}")
    return ValidRow(
        number=number,
        model_name=as_text(row.get("model")),
        model=model,
        dataset=dataset,
        architecture=as_text(row.get("architecture"))[:100] or "reference",
        device_name=as_text(row.get("device")),
        device=device,
        plan_text=plan_text,
        threads=_threads(row.get("threads"), report),
        source_label=label,
        figures=_figures(row, report),
        static=_static(row, report),
    )


def _check_columns(rows: list[dict[str, Any]]) -> list[Problem]:
    columns = {str(c) for row in rows for c in row}
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *FIGURES, *STATIC_FIGURES, *IGNORED_COLUMNS}
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


def _parse_plans(texts: Iterable[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each distinct plan text parsed once: (plans by text, problems by text)."""
    from compression.plan import Plan as CompressionPlan

    plans, problems = {}, {}
    for text in texts:
        if not text:
            problems[text] = "Missing: give the plan's text, e.g. 'baseline' or 'W3(s=0.6)@fc1'."
            continue
        try:
            plans[text] = CompressionPlan.parse(text)
        except ValueError as exc:  # PlanSyntaxError, UnknownTechniqueError, bad parameter
            problems[text] = str(exc)
    return plans, problems


def _check_export_mode(row: dict[str, Any], plan: Any, report: Callable) -> None:
    # The export mode follows from the plan (its quantization step); a file cannot change it.
    given = as_text(row.get("export_mode"))
    if given and given != plan.export_mode:
        report(
            "export_mode",
            f"The plan {plan.canonical()!r} exports as {plan.export_mode}. Received: {given!r}",
        )


class Names:
    """The models, devices and datasets a file names, read in three queries."""

    def __init__(self, models: dict, devices: dict, datasets: dict) -> None:
        self.models, self.devices, self.datasets = models, devices, datasets

    @classmethod
    def read(cls, rows: list[dict[str, Any]]) -> Names:
        """Look up every name the rows give."""

        def names(column: str) -> set[str]:
            return {as_text(r.get(column)) for r in rows}

        return cls(
            DNNModel.objects.select_related("dataset").in_bulk(names("model"), field_name="name"),
            Device.objects.in_bulk(names("device"), field_name="name"),
            Dataset.objects.in_bulk(names("dataset"), field_name="name"),
        )

    def model(
        self, row: dict[str, Any], create: bool, report: Callable
    ) -> tuple[DNNModel | None, Dataset | None]:
        """The row's model, or (None, its dataset) when it is to be created as a reference."""
        name = as_text(row.get("model"))
        dataset_name = as_text(row.get("dataset"))
        if name in self.models:
            model = self.models[name]
            if dataset_name and dataset_name != model.dataset.name:
                report("dataset", f"{name!r} is a model of {model.dataset.name!r}.")
            return model, model.dataset
        if not name:
            report("model", "Missing: give the model's name.")
        elif len(name) > 100:
            report("model", f"At most 100 characters. Received: {len(name)}")
        elif not create:
            report("model", f"No model is called {name!r}; register it, or set create_missing.")
        elif dataset_name not in self.datasets:
            report("dataset", f"To create the reference model {name!r}, name a registered dataset.")
        return None, self.datasets.get(dataset_name)

    def device(self, row: dict[str, Any], create: bool, report: Callable) -> Device | None:
        """The row's device, or None when it is to be created as an external device."""
        name = as_text(row.get("device"))
        if name in self.devices:
            return self.devices[name]
        if not name:
            report("device", "Missing: give the device's name.")
        elif len(name) > 100:
            report("device", f"At most 100 characters. Received: {len(name)}")
        elif not create:
            report("device", f"No device is called {name!r}; register it, or set create_missing.")
        return None


def _reporter(number: int, found: list[Problem]) -> Callable[[str, str], None]:
    return lambda column, message: found.append(Problem(number, column, message))


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


def _parsed(
    row: dict[str, Any], figures: dict[str, Any], report: Callable[[str, str], None]
) -> dict[str, Any]:
    out = {}
    for name, figure in figures.items():
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            out[name] = parse_figure(figure, value)
        except ValueError as exc:
            report(name, str(exc))
    return out


def _figures(row: dict[str, Any], report: Callable[[str, str], None]) -> dict[str, Any]:
    figures = _parsed(row, FIGURES, report)
    given = (*MEASURES, *STATIC_FIGURES)
    if not any(name in row and as_text(row[name]) for name in given):
        report("figures", f"No figure given; give at least one of {', '.join(given)}.")
    return figures


def _static(row: dict[str, Any], report: Callable[[str, str], None]) -> dict[str, int]:
    return _parsed(row, STATIC_FIGURES, report)
