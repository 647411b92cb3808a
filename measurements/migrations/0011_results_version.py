"""PostgreSQL keeps a count of committed changes to results and what result queries join.

Every INSERT, UPDATE, DELETE or TRUNCATE statement on a table in TABLES
(but an UPDATE of UNWATCHED columns only) adds one row to
``measurements_results_change`` (the writing transaction's id);
``measurements.results_version`` reads the version as the base count plus
those rows. A row per statement, not a shared counter updated in place: a
counter row would be locked by every writing transaction until it commits,
serialising the runners' result writes and risking deadlocks with their
job and artifact locks. Other databases get nothing (no caching there).
"""

from django.db import migrations

# Must match measurements.results_version.TABLES (a test checks it does).
TABLES = (
    "measurements_result",
    "measurements_artifact",
    "measurements_dnnmodel",
    "measurements_dataset",
    "measurements_device",
    "measurements_plan",
    "measurements_plan_techniques",
    "measurements_technique",
)

# Columns rewritten by the minute that no result query reads: a compression lease's
# renewal (every JOB_LEASE_SECONDS / 3 per compressing runner) and a runner's device
# heartbeat. Updates of only these leave the version alone. Must match
# measurements.results_version.UNWATCHED.
UNWATCHED = {
    "measurements_artifact": ("lease_expires_at",),
    "measurements_device": ("online", "last_seen"),
}

SETUP = [
    "CREATE TABLE measurements_results_version "
    "(id smallint PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)",
    "INSERT INTO measurements_results_version (id, n) VALUES (1, 0)",
    "CREATE TABLE measurements_results_change (txid bigint NOT NULL DEFAULT txid_current())",
    "CREATE FUNCTION measurements_results_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO measurements_results_change DEFAULT VALUES; RETURN NULL; END $$",
]
TRIGGER = (
    "CREATE TRIGGER {name} AFTER {events} ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION measurements_results_changed()"
)


def triggers(columns_of) -> list[str]:
    """CREATE TRIGGER statements: every write to TABLES, but updates of UNWATCHED columns only."""
    out = []
    for table in TABLES:
        skipped = UNWATCHED.get(table)
        if not skipped:
            out.append(TRIGGER.format(name="results_changed", table=table,
                                      events="INSERT OR UPDATE OR DELETE OR TRUNCATE"))  # fmt: skip
            continue
        watched = ", ".join(c for c in columns_of(table) if c not in skipped)
        out.append(TRIGGER.format(name="results_changed", table=table,
                                  events="INSERT OR DELETE OR TRUNCATE"))  # fmt: skip
        out.append(TRIGGER.format(name="results_changed_update", table=table,
                                  events=f"UPDATE OF {watched}"))  # fmt: skip
    return out


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    models = {m._meta.db_table: m for m in apps.get_app_config("measurements").get_models()}

    def columns_of(table: str) -> list[str]:
        return [f.column for f in models[table]._meta.concrete_fields]

    for statement in SETUP + triggers(columns_of):
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        for name in ("results_changed", "results_changed_update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}", params=None)
    for statement in (
        "DROP FUNCTION IF EXISTS measurements_results_changed()",
        "DROP TABLE IF EXISTS measurements_results_change",
        "DROP TABLE IF EXISTS measurements_results_version",
    ):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("measurements", "0010_converted_sha256"),
    ]

    operations = [migrations.RunPython(create, drop)]
