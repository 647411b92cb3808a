"""Query parameters of the analysis pages, validated into plain values.

Every filter lives in the URL so a view can be shared. A value the page
cannot use raises ``BadQuery`` naming the parameter and the value received;
the views show it on the page with status 400, never a 500.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.http import QueryDict

from measurements.pareto import METRICS, Metric

MAX_ID = 2**63 - 1
MAX_THREADS = 32767  # Result.num_threads is a PositiveSmallIntegerField


class BadQuery(ValueError):
    """A query parameter the page cannot use; the message says which and why."""


def ids(query: QueryDict, name: str) -> list[int]:
    """Every id given as ``?name=1&name=2`` or ``?name=1,2``, in order, without repeats."""
    found: list[int] = []
    for raw in query.getlist(name):
        for part in filter(None, (p.strip() for p in raw.split(","))):
            if not part.isdigit() or not 0 < int(part) <= MAX_ID:
                raise BadQuery(
                    f"{name} must be a positive whole number (an id). Received: {name}={part!r}"
                )
            if int(part) not in found:
                found.append(int(part))
    return found


def one_id(query: QueryDict, name: str) -> int | None:
    """A single id, or None when the parameter is absent or empty."""
    found = ids(query, name)
    if len(found) > 1:
        raise BadQuery(f"{name} takes one id. Received: {name}={','.join(map(str, found))}")
    return found[0] if found else None


def threads(query: QueryDict, name: str = "threads") -> int | None:
    """A thread count from 1 to 32767, or None when absent."""
    raw = (query.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) <= MAX_THREADS:
        raise BadQuery(
            f"{name} must be a whole number of threads from 1 to {MAX_THREADS}. "
            f"Received: {name}={raw!r}"
        )
    return int(raw)


def metric(query: QueryDict, name: str, default: str, allowed: Sequence[str]) -> Metric:
    """The metric named by ``?name=``, one of ``allowed``."""
    raw = (query.get(name) or default).strip()
    if raw not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)}. Received: {name}={raw!r}")
    return METRICS[raw]


def optional_metric(query: QueryDict, name: str, allowed: Sequence[str]) -> Metric | None:
    """Like ``metric`` but absent or empty means none."""
    if not (query.get(name) or "").strip():
        return None
    return metric(query, name, "", allowed)


def choice(query: QueryDict, name: str, default: str, allowed: Sequence[str]) -> str:
    """One of ``allowed`` (``default`` when absent)."""
    raw = (query.get(name) or default).strip()
    if raw not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)}. Received: {name}={raw!r}")
    return raw


def amount(query: QueryDict, name: str, unit: str, maximum: float | None = None) -> float | None:
    """A non-negative finite number in ``unit`` (a budget), or None when absent.

    Raises:
        BadQuery: not a number, not finite, negative, or above ``maximum``.
    """
    raw = (query.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a number of {unit}. Received: {name}={raw!r}") from None
    if not math.isfinite(value):
        raise BadQuery(f"{name} must be a finite number of {unit}. Received: {name}={raw!r}")
    if value < 0:
        raise BadQuery(f"{name} cannot be negative. Received: {name}={raw!r}")
    if maximum is not None and value > maximum:
        raise BadQuery(f"{name} cannot exceed {maximum:g} {unit}. Received: {name}={raw!r}")
    return value


def sort_key(query: QueryDict, allowed: Sequence[str], default: str) -> tuple[str, bool]:
    """``?sort=key`` or ``?sort=-key`` -> (key, descending)."""
    raw = (query.get("sort") or default).strip()
    key = raw.removeprefix("-")
    if key not in allowed:
        known = ", ".join(allowed)
        raise BadQuery(f"sort must be one of {known} (prefix - to reverse). Received: sort={raw!r}")
    return key, raw.startswith("-")


def page_number(query: QueryDict) -> int:
    """``?page=`` as a positive whole number (1 when absent)."""
    raw = (query.get("page") or "1").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise BadQuery(f"page must be a positive whole number. Received: page={raw!r}")
    return int(raw)
