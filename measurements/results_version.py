"""The results version: a number that grows with every committed change a result query can see.

On PostgreSQL, migration 0011 puts a statement-level trigger on each table of
TABLES: any INSERT, UPDATE, DELETE or TRUNCATE (but an UPDATE of UNWATCHED
columns only) adds one row to a change log in the writing transaction. The
version is a base count plus the log's rows, read in one statement (one
snapshot). So:

- a change becomes visible to readers exactly when its log row does (the same
  commit), and the version it shows is larger than any before it;
- a rolled-back change leaves neither data nor a log row;
- compaction moves the log's rows into the base count in one statement,
  leaving the sum (and so the version) unchanged.

Two reads that show the same version therefore see the same committed rows in
TABLES (UNWATCHED columns aside). The one exception is a transaction that has
itself changed them and not yet committed: it sees its own rows, which a
rollback takes away again (and a later, different state could reach the same
count), so it gets None.
"""

from __future__ import annotations

from django.db import connections

# Must match migration 0011's list: the tables whose changes bump the version.
TABLES = frozenset(
    {
        "measurements_result",
        "measurements_artifact",
        "measurements_dnnmodel",
        "measurements_dataset",
        "measurements_device",
        "measurements_plan",
        "measurements_plan_techniques",
        "measurements_technique",
    }
)
# Columns rewritten by the minute (a compression lease's renewal, a runner's device
# heartbeat) whose updates alone leave the version alone; must match migration 0011.
# measurements.results_cache never caches SQL that reads them.
UNWATCHED = {
    "measurements_artifact": ("lease_expires_at",),
    "measurements_device": ("online", "last_seen"),
}
# Above this many log rows a reader folds them into the base count (a few ms, rarely).
COMPACT_ABOVE = 1000

_READ = (
    "SELECT v.n + c.rows, c.rows, EXISTS (SELECT 1 FROM measurements_results_change "
    "WHERE txid = txid_current_if_assigned()) FROM measurements_results_version v, "
    "(SELECT count(*) AS rows FROM measurements_results_change) c WHERE v.id = 1"
)
# One statement: the deleted rows and the base's increase commit together.
_COMPACT = (
    "WITH gone AS (DELETE FROM measurements_results_change RETURNING 1) "
    "UPDATE measurements_results_version SET n = n + (SELECT count(*) FROM gone) WHERE id = 1"
)


def current(alias: str = "default") -> int | None:
    """The version this connection sees now; None when it cannot vouch for what it sees.

    Args:
        alias: the database connection.

    Returns:
        The version, or None on a database other than PostgreSQL, or inside a
        transaction that changed a table of TABLES and has not committed.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_READ)
        version, pending, own_changes = cursor.fetchone()
        if pending > COMPACT_ABOVE and not connection.in_atomic_block:
            cursor.execute(_COMPACT)  # autocommit: holds the base row for one statement only
    return None if own_changes else int(version)
