"""A queryset's numeric columns as NumPy arrays, in one round trip.

A front or a grid sample over 100,000 results needs six numbers a result;
fetched as rows, turning the database's text into Python objects and those
into arrays costs more than the pages' whole budget (about 0.5 s). On
PostgreSQL each column is aggregated into one ``bytea`` of big-endian binary
values (``int8send``/``float8send`` joined by ``string_agg``; every aggregate
of one query reads the same rows in the same order), fetched in binary and
viewed by ``numpy.frombuffer``: no per-value step in Python. Elsewhere
(SQLite) the rows are fetched and converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from typing import Any

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

INT = "int"  # a column that is never NULL (ids, counts): int64
FLOAT = "float"  # any number, NULL read as NaN: float64 (integers exact up to 2**53)
_DTYPES = {INT: np.int64, FLOAT: np.float64}
_WIRE = {INT: ">i8", FLOAT: ">f8"}


def column_arrays(queryset: QuerySet, columns: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The values of each column over the queryset's rows, aligned by position.

    Args:
        queryset: any filters; its ordering is dropped (the rows come in no set order).
        columns: name -> (lookup, INT or FLOAT).

    Returns:
        name -> a 1-D NumPy array; all of one length.
    """
    lookups = [lookup for lookup, _ in columns.values()]
    kinds = [kind for _, kind in columns.values()]
    if any(kind not in _DTYPES for kind in kinds):
        raise ValueError(f"Column kinds are {INT!r} or {FLOAT!r}. Received: {kinds}")
    try:
        inner, params = queryset.order_by().values_list(*lookups).query.sql_with_params()
    except EmptyResultSet:  # e.g. .none(): nothing to read
        return {name: np.empty(0, _DTYPES[kind]) for name, kind in zip(columns, kinds, strict=True)}
    if connections[queryset.db].vendor == "postgresql":
        arrays = _aggregated(queryset.db, inner, params, kinds)
    else:
        arrays = _rows(queryset.db, inner, params, kinds)
    return dict(zip(columns, arrays, strict=True))


def with_ids(queryset: QuerySet, ids: Iterable[int]) -> QuerySet:
    """``queryset`` narrowed to the rows whose id is in ``ids``.

    On PostgreSQL the ids travel as one array parameter: binding thousands of
    ``IN (%s, …)`` placeholders one by one costs more than running the query.
    """
    ids = [int(pk) for pk in ids]
    if connections[queryset.db].vendor == "postgresql":
        return queryset.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", (ids,)))
    return queryset.filter(pk__in=ids)


def _rows(alias: str, sql: str, params: Any, kinds: list[str]) -> list[np.ndarray]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # dtype=float turns None into NaN; ids come back exact (below 2**53).
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(kinds))
    return [table[:, i].astype(_DTYPES[kind]) for i, kind in enumerate(kinds)]


def _aggregated(alias: str, inner: str, params: Any, kinds: list[str]) -> list[np.ndarray]:
    names = [f"c{i}" for i in range(len(kinds))]
    parts = [
        f"string_agg(int8send(CAST({name} AS bigint)), '')"
        if kind == INT
        else f"string_agg(float8send(coalesce(CAST({name} AS double precision), "
        "'NaN'::double precision)), '')"
        for name, kind in zip(names, kinds, strict=True)
    ]
    sql = f"SELECT {', '.join(parts)} FROM ({inner}) AS found ({', '.join(names)})"
    row = binary_row(alias, sql, params)
    return [
        np.frombuffer(data or b"", _WIRE[kind]).astype(_DTYPES[kind])
        for data, kind in zip(row, kinds, strict=True)
    ]


def binary_row(alias: str, sql: str, params: Any) -> tuple:
    """The one row ``sql`` returns, read in PostgreSQL's binary format (bytea as raw bytes).

    Django's cursors bind parameters on the client and read text (bytea as hex,
    twice the bytes and a decoding pass); the statement is bound exactly as
    Django would bind it, then run on a binary cursor of the same connection.
    It is logged as Django logs its own queries (``connection.queries`` under
    DEBUG, ``CaptureQueriesContext``).
    """
    import psycopg  # PostgreSQL only

    with connections[alias].cursor() as wrapper:
        mogrify = getattr(wrapper.cursor, "mogrify", None)  # absent with server-side binding
        statement, args = (mogrify(sql, params), None) if mogrify else (sql, params)
        logged = getattr(wrapper, "debug_sql", None)
        log = logged(statement) if logged else nullcontext()
        with log, psycopg.Cursor(wrapper.db.connection) as cursor:
            cursor.execute(statement, args, binary=True)
            return cursor.fetchone()
