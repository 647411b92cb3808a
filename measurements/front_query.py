"""The non-dominated results of a queryset over two metrics, computed by the database.

Over 100,000 results, fetching every pair into Python and sorting there costs
more than the whole answer may (the API's goal is 150 ms); the database sorts
them in one pass instead and returns only the front's ids. The rule is
``measurements.pareto.pareto_front``'s, over one point per plan: for each
(artifact, device, threads) only the newest stored result with both figures
counts, so a plan imported or measured twice is never listed twice. Exact
duplicates of a front point (different plans, same figures) are all kept.

Portable SQL (window functions, CTEs): PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import QuerySet

from measurements.pareto import Metric

# With points sorted by (x, y), a point is on the front when its y beats the y of every
# point before it; an identical twin of a front point stays too (MAX over the twins). The
# frame grows from a fixed start, so each window is one incremental pass (O(n log n)).
_FRONT_SQL = """
WITH found (pk, artifact, device, threads, x, y) AS ({inner}),
newest AS (
    SELECT pk, device, x * {sx} AS cx, y * {sy} AS cy,
           ROW_NUMBER() OVER (PARTITION BY artifact, threads, device ORDER BY pk DESC) AS n
    FROM found
),
ranked AS (
    SELECT pk, device, cx, cy, COUNT(*) OVER () AS candidates, MIN(cy) OVER (
        {partition} ORDER BY cx, cy ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS best
    FROM newest WHERE n = 1
),
flagged AS (
    SELECT pk, device, candidates, MAX(CASE WHEN best IS NULL OR cy < best THEN 1 ELSE 0 END)
        OVER (PARTITION BY {twins}cx, cy) AS front
    FROM ranked
)
SELECT pk, device, candidates FROM flagged WHERE front = 1
"""


def _roomy(cursor: Any) -> None:
    # 100,000 candidates sort in memory with 64 MB, not through temporary files (4 MB default);
    # SET LOCAL lasts until the end of the enclosing transaction only.
    if cursor.db.vendor == "postgresql":
        cursor.execute("SET LOCAL work_mem = '64MB'")


def _inner(results: QuerySet, x: Metric, y: Metric) -> tuple[str, tuple]:
    """The candidates' SQL; raises EmptyResultSet for a queryset that can match nothing."""
    both = results.filter(**{f"{x.field}__isnull": False, f"{y.field}__isnull": False})
    columns = ("pk", "artifact_id", "device_id", "num_threads", x.field, y.field)
    query = both.order_by().values_list(*columns).query
    return query.sql_with_params()


def front_ids(
    results: QuerySet, x: Metric, y: Metric, per_device: bool = False
) -> tuple[list[tuple[int, int]], int]:
    """(result id, device id) of every front point, in no particular order, and the candidates.

    Args:
        results: the candidates (any filters).
        x: the first metric; y: the second.
        per_device: one front per device (the dashboard's) instead of one over all.

    Returns:
        The front's (result id, device id) pairs, and how many plans (per device and
        thread count) had a result with both figures.
    """
    try:
        inner, params = _inner(results, x, y)
    except EmptyResultSet:  # e.g. .none(): no dataset chosen
        return [], 0
    sql = _FRONT_SQL.format(
        inner=inner,
        sx=-1.0 if x.goal == "max" else 1.0,
        sy=-1.0 if y.goal == "max" else 1.0,
        partition="PARTITION BY device" if per_device else "",
        twins="device, " if per_device else "",
    )
    with transaction.atomic(using=results.db), connections[results.db].cursor() as cursor:
        _roomy(cursor)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(int(pk), int(device)) for pk, device, _ in rows], int(rows[0][2]) if rows else 0


# One result per grid cell per device, the newest: a faithful picture of where results lie.
_SAMPLE_SQL = """
WITH found (pk, artifact, device, threads, x, y) AS ({inner}),
newest AS (
    SELECT pk, device, CAST(x AS DOUBLE PRECISION) AS x, CAST(y AS DOUBLE PRECISION) AS y,
           ROW_NUMBER() OVER (PARTITION BY artifact, threads, device ORDER BY pk DESC) AS n
    FROM found
),
kept AS (SELECT pk, device, x, y FROM newest WHERE n = 1),
bounded AS (
    SELECT pk, device, x, y, MIN(x) OVER () AS x0, MAX(x) OVER () - MIN(x) OVER () AS dx,
           MIN(y) OVER () AS y0, MAX(y) OVER () - MIN(y) OVER () AS dy
    FROM kept
),
cells AS (
    SELECT pk, ROW_NUMBER() OVER (
        PARTITION BY device, {floor}((x - x0) * {grid} / NULLIF(dx, 0){as_int}),
                     {floor}((y - y0) * {grid} / NULLIF(dy, 0){as_int})
        ORDER BY pk DESC
    ) AS k
    FROM bounded
)
SELECT pk FROM cells WHERE k = 1
"""
_NEWEST_SQL = (
    _SAMPLE_SQL[: _SAMPLE_SQL.index("bounded AS")].rstrip().rstrip(",")
    + """
SELECT pk FROM kept
"""
)


def sample_ids(results: QuerySet, x: Metric, y: Metric, grid: int | None) -> list[int]:
    """Result ids, one per cell of a ``grid`` x ``grid`` split of the plot, per device.

    Of each plan's results only the newest with both figures counts (as on the
    front); of each cell the newest. At most ``grid``² ids per device; every
    plan's newest when ``grid`` is None.
    """
    try:
        inner, params = _inner(results, x, y)
    except EmptyResultSet:
        return []
    sql = _NEWEST_SQL if grid is None else _SAMPLE_SQL
    with transaction.atomic(using=results.db), connections[results.db].cursor() as cursor:
        # Just under grid: the largest value falls in the last cell, not one past it.
        # PostgreSQL's CAST rounds, SQLite's truncates (and may lack FLOOR): a cell index each.
        floor = ("FLOOR", "") if cursor.db.vendor == "postgresql" else ("CAST", " AS INTEGER")
        grid_sql = sql.format(
            inner=inner, grid=float(grid or 0) * 0.999999, floor=floor[0], as_int=floor[1]
        )
        _roomy(cursor)
        cursor.execute(grid_sql, params)
        return [int(pk) for (pk,) in cursor.fetchall()]
