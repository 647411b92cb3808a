"""The CSV export on PostgreSQL: ``COPY (SELECT …) TO STDOUT`` formats the rows.

Formatting floats in Python costs most of an export's time; PostgreSQL
writes them (shortest text that reads back to the same float, as Python's
``repr``) as fast as it reads them. The query is the export's own queryset
(filters and ordering), wrapped in a SELECT that writes each column as the
pandas path does: booleans ``True``/``False``, times ISO 8601 in UTC with
microseconds, technique codes joined by ``+``, where the static figures came
from, and formula-like text escaped with a leading quote. The COPY data is
passed on in parts of at least PART_BYTES: memory stays flat whatever the
table's size.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from measurements.figures import STATIC_FIGURES
from measurements.imports import FORMULA_STARTS
from measurements.models import Plan
from measurements.provenance import IMPORTED_STATIC_KEY
from webapp.api.serializers import plan_codes

PART_BYTES = 256 * 1024
# The code points of the characters that make a spreadsheet run a cell (= + - @ tab CR).
# ascii() of the first character (its code point in a UTF8 database) compared as integers
# costs a third of left(text, 1) IN (...), whose text comparisons over 14 columns were a
# quarter of the COPY's time.
_FORMULA = "(" + ", ".join(str(ord(char)) for char in FORMULA_STARTS) + ")"
# All of them are below this code point and most text starts with a letter above it:
# one comparison settles most cells, where IN alone made six (12 % of the COPY's time).
_FORMULA_BELOW = max(ord(char) for char in FORMULA_STARTS) + 1


def supported(queryset: QuerySet) -> bool:
    """Whether the queryset's database can COPY (PostgreSQL)."""
    return connections[queryset.db].vendor == "postgresql"


def copy_sql(queryset: QuerySet, columns: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """The COPY statement writing ``columns`` (export.COLUMNS) of ``queryset``, and its params."""
    names = [f"c{i}" for i in range(len(columns))]
    inner, params = queryset.values_list(*(c.path for c in columns)).query.sql_with_params()
    at = {c.name: names[i] for i, c in enumerate(columns)}
    statics = ", ".join(at[name] for name in STATIC_FIGURES)
    exprs = [f'{_expression(c, names[i], statics)} AS "{c.name}"' for i, c in enumerate(columns)]
    select = f"SELECT {', '.join(exprs)} FROM ({inner}) AS found ({', '.join(names)})"
    codes = dict(Plan.objects.values_list("pk", "steps"))
    codes_json = json.dumps({str(pk): "+".join(plan_codes(steps)) for pk, steps in codes.items()})
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", (codes_json, *params)


def _expression(column: Any, name: str, statics: str) -> str:
    kind = column.kind
    if kind == "bool":
        return f"CASE WHEN {name} THEN 'True' WHEN NOT {name} THEN 'False' END"
    if kind == "text":
        formula = f"ascii({name}) < {_FORMULA_BELOW} AND ascii({name}) IN {_FORMULA}"
        return f"CASE WHEN {formula} THEN '''' || {name} ELSE {name} END"
    if kind == "json":
        return f"{name}::text"
    if kind == "time":
        return f"""to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
    if kind == "codes":  # the plan id looked up in a JSON object of plan id -> codes
        return f"(%s::jsonb ->> {name}::text)"
    if kind == "static_source":
        given = f"nullif(btrim({name} -> '{IMPORTED_STATIC_KEY}' ->> 'source_label'), '')"
        label = f"coalesce({given}, 'source not named')"
        return (
            f"CASE WHEN {name} ? '{IMPORTED_STATIC_KEY}' THEN 'imported (' || {label} || ')' "
            f"WHEN coalesce({statics}) IS NOT NULL THEN 'measured' ELSE '' END"
        )
    return name  # int, float: PostgreSQL's shortest exact text


def header_line(columns: tuple[Any, ...]) -> bytes:
    """The CSV header as PostgreSQL's HEADER option writes it (names quoted only when needed)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(c.name for c in columns)
    return out.getvalue().encode()


def copy_parts(queryset: QuerySet, columns: tuple[Any, ...]) -> Iterator[bytes]:
    """The CSV file, header first, in parts of at least PART_BYTES (the last may be shorter).

    The header is yielded before the COPY runs: PostgreSQL buffers its own
    header line until the query (and any sort it needs) produces rows, which
    delayed the first byte by the whole sort.
    """
    yield header_line(columns)
    sql, params = copy_sql(queryset, columns)
    with connections[queryset.db].cursor() as cursor, cursor.cursor.copy(sql, params) as copy:
        # Each row is copied into the part as it is read, so its buffer is freed at once:
        # keeping ~500 memoryviews a part until a join set off ~200 garbage collections
        # an export, and now and then a full one over the server's heap (0.15 s).
        part = bytearray()
        for block in copy:
            part += block
            if len(part) >= PART_BYTES:
                yield bytes(part)
                part.clear()
        if part:
            yield bytes(part)
