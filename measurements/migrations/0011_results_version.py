"""PostgreSQL keeps a count of committed changes to results and what result queries join.

Every INSERT, UPDATE, DELETE or TRUNCATE statement on a table in TABLES adds
one row to ``measurements_results_change`` (the writing transaction's id);
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

CREATE = [
    "CREATE TABLE measurements_results_version "
    "(id smallint PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)",
    "INSERT INTO measurements_results_version (id, n) VALUES (1, 0)",
    "CREATE TABLE measurements_results_change (txid bigint NOT NULL DEFAULT txid_current())",
    "CREATE FUNCTION measurements_results_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO measurements_results_change DEFAULT VALUES; RETURN NULL; END $$",
    *(
        f"CREATE TRIGGER results_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION measurements_results_changed()"
        for table in TABLES
    ),
]

DROP = [
    *(f"DROP TRIGGER IF EXISTS results_changed ON {table}" for table in TABLES),
    "DROP FUNCTION IF EXISTS measurements_results_changed()",
    "DROP TABLE IF EXISTS measurements_results_change",
    "DROP TABLE IF EXISTS measurements_results_version",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("measurements", "0010_converted_sha256"),
    ]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
