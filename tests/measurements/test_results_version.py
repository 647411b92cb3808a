"""The results version: moves with every committed change a result query can see, only then."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection, transaction

from measurements import results_version
from measurements.models import Device, Job, Result
from tests.factories import make_device, make_result

pytestmark = pytest.mark.django_db(transaction=True)
ON_POSTGRES = connection.vendor == "postgresql"


def test_it_versions_the_tables_the_migration_puts_triggers_on():
    migration = importlib.import_module("measurements.migrations.0011_results_version")
    assert set(migration.TABLES) == results_version.TABLES
    # Every table a result query can join to, and not jobs (their progress changes each second).
    assert {Result._meta.db_table, Device._meta.db_table} <= results_version.TABLES
    assert Job._meta.db_table not in results_version.TABLES


def test_it_moves_on_every_insert_update_and_delete_and_stays_otherwise():
    before = results_version.current()
    if not ON_POSTGRES:
        assert before is None  # no trigger there: callers compute every time
        return
    assert results_version.current() == before  # reading changes nothing
    result = make_result()
    created = results_version.current()
    Result.objects.filter(pk=result.pk).update(latency_mean_ms=3.0)
    updated = results_version.current()
    Device.objects.filter(pk=result.device_id).update(name="renamed")
    renamed = results_version.current()
    Result.objects.filter(pk=result.pk).delete()
    deleted = results_version.current()
    assert before < created < updated < renamed < deleted
    Job.objects.update(progress=0.5)  # not versioned
    assert results_version.current() == deleted


def test_it_vouches_for_nothing_inside_a_transaction_with_its_own_changes():
    make_device(name="before")
    with transaction.atomic():
        assert (results_version.current() is None) is not ON_POSTGRES  # nothing changed yet
        make_device(name="inside")
        assert results_version.current() is None  # a rollback could take this state back


def test_it_leaves_the_version_where_it_was_after_a_rollback():
    before = results_version.current()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_device(name="rolled back")
        raise RuntimeError("roll back")
    assert results_version.current() == before
    assert not Device.objects.filter(name="rolled back").exists()


def test_it_compacts_the_change_log_without_moving_the_version(monkeypatch):
    if not ON_POSTGRES:
        assert results_version.current() is None
        return
    monkeypatch.setattr(results_version, "COMPACT_ABOVE", 2)
    for i in range(4):
        make_device(name=f"d{i}")
    first = results_version.current()  # finds 4+ log rows: folds them into the base
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM measurements_results_change")
        assert cursor.fetchone()[0] == 0
    assert results_version.current() == first
    make_device(name="after")
    assert results_version.current() == first + 1
