"""Values computed from a result query, kept in this process until the results version moves.

The analysis pages read the same columns of up to 100,000 results on every
request, though results change seldom (a job finishing, an import). Here a
value computed from a queryset is kept under the queryset's SQL (and a tag
naming the computation) with the results version read before computing
(``measurements.results_version``); a later call that reads the same version
gets it back after one query of one row. A new, changed or deleted row of a
versioned table moves the version, so the next call computes afresh.

Correct because the version is read first: the computation's own reads see
at least that version's rows (a later statement sees a later snapshot), so a
value is never older than the version it is filed under. Only SQL whose
tables all carry the version's trigger is cached (a query of jobs, whose
progress changes by the second, is computed every time); ``compute`` must
itself read only those tables (the callers here read plans and techniques).
Cached NumPy arrays are made read-only: callers share them.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

from measurements import results_version

T = TypeVar("T")
# Per process: a dozen pages' worth at 100,000 results (a front's candidates are ~3 MB).
BUDGET_BYTES = 256 * 1024 * 1024
# Rough size of one Python object held in a cached list (a row tuple with its values).
OBJECT_BYTES = 64

_SOURCE = re.compile(r"\b(?:FROM|JOIN)\s+(\S+)", re.IGNORECASE)
_UNWATCHED = re.compile(
    "|".join(rf'\."{c}"' for columns in results_version.UNWATCHED.values() for c in columns)
)
_lock = threading.Lock()
_entries: OrderedDict[tuple, tuple[int, Any, int]] = OrderedDict()  # key -> version, value, bytes


def memoized(
    queryset: QuerySet,
    tag: Hashable,
    compute: Callable[[], T],
    weight: Callable[[T], int] | None = None,
) -> T:
    """``compute()``, or the value an earlier call with the same SQL and tag kept.

    Args:
        queryset: what ``compute`` reads (its SQL and parameters are the key).
        tag: names the computation (and anything else it depends on, e.g. the metrics).
        compute: reads the queryset (and only versioned tables), returns the value.
        weight: the value's size in bytes, for the budget (default: ``size_of``).

    Returns:
        The value; shared between calls, so callers must not change it.
    """
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # .none(): nothing to read, nothing worth keeping
        return compute()
    if not versioned(sql):
        return compute()
    version = results_version.current(queryset.db)
    if version is None:
        return compute()
    key = (queryset.db, tag, sql, repr(params))
    with _lock:
        found = _entries.get(key)
        if found is not None and found[0] == version:
            _entries.move_to_end(key)
            return found[1]
    value = compute()
    frozen(value)
    _store(key, version, value, (weight or size_of)(value))
    return value


def versioned(sql: str) -> bool:
    """Whether every table ``sql`` reads carries the results version's trigger.

    Django quotes every table it names after FROM and JOIN; a subquery's own
    FROM is checked in turn. Anything else read there (a function, raw SQL)
    is not known to be versioned: False. So is SQL reading a column whose
    updates leave the version alone (``results_version.UNWATCHED``).
    """
    if _UNWATCHED.search(sql):
        return False
    for source in _SOURCE.findall(sql):
        if not source.startswith("(") and source.strip('"') not in results_version.TABLES:
            return False
    return True


def _store(key: tuple, version: int, value: Any, size: int) -> None:
    if size > BUDGET_BYTES:  # would push out everything else and still not fit
        return
    with _lock:
        if key in _entries and _entries[key][0] > version:  # a slower, older read finished last
            return
        for old in [k for k, e in _entries.items() if k[0] == key[0] and e[0] < version]:
            del _entries[old]  # an older version never comes back
        _entries[key] = (version, value, size)
        _entries.move_to_end(key)
        total = sum(entry[2] for entry in _entries.values())
        while total > BUDGET_BYTES:
            total -= _entries.popitem(last=False)[1][2]


def clear() -> None:
    """Forget every kept value (tests; nothing else needs to)."""
    with _lock:
        _entries.clear()


def _parts(value: Any) -> list[Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        return list(value.values())
    return []


def frozen(value: Any) -> None:
    """Make the NumPy arrays of ``value`` (and of its fields or dict values) read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    for part in _parts(value):
        if isinstance(part, np.ndarray | dict):
            frozen(part)


def size_of(value: Any) -> int:
    """Roughly how many bytes ``value`` holds: its arrays' bytes, OBJECT_BYTES per list item."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, list | tuple):
        return OBJECT_BYTES * (len(value) + 1)
    return OBJECT_BYTES + sum(size_of(part) for part in _parts(value))
