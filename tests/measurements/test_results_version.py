"""The results version: moves with every committed change a result query can see, only then."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection, transaction
from django.utils import timezone

from measurements import results_version
from measurements.models import Artifact, Device, Job, Result
from tests.factories import make_artifact, make_device, make_result

pytestmark = pytest.mark.django_db(transaction=True)
ON_POSTGRES = connection.vendor == "postgresql"


def test_it_versions_the_tables_the_migration_puts_triggers_on():
    migration = importlib.import_module("measurements.migrations.0011_results_version")
    assert set(migration.TABLES) == results_version.TABLES
    assert migration.UNWATCHED == results_version.UNWATCHED
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


def test_it_stays_for_a_lease_renewal_or_a_device_heartbeat_only():
    artifact, device = make_artifact(status="pending"), make_device(name="phone")
    assert artifact.claim_compression("runner-1", lease_seconds=60)  # status: a change
    before = results_version.current()
    assert artifact.renew_compression("runner-1", lease_seconds=60)
    Device.objects.filter(pk=device.pk).update(online=True, last_seen=timezone.now())
    assert results_version.current() == before
    assert Artifact.objects.get(pk=artifact.pk).lease_expires_at > timezone.now()
    if ON_POSTGRES:
        Device.objects.filter(pk=device.pk).update(online=False, name="phone-2")
        assert results_version.current() == before + 1  # name is read: a change
        artifact.file_size = 1234
        artifact.save()  # every column written: a change
        assert results_version.current() == before + 2
        Artifact.objects.filter(pk=artifact.pk).update(lease_expires_at=timezone.now())
        assert results_version.current() == before + 2


def test_it_watches_every_column_but_the_unwatched_ones():
    # A column added later must join the UPDATE trigger's list (a new migration), or
    # its updates would not move the version.
    if not ON_POSTGRES:
        assert results_version.current() is None
        return
    for model in (Artifact, Device):
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.attname FROM pg_trigger t JOIN pg_attribute a ON a.attrelid = "
                "t.tgrelid AND a.attnum = ANY(t.tgattr) WHERE t.tgname = "
                "'results_changed_update' AND t.tgrelid = %s::regclass",
                [table],
            )
            watched = {name for (name,) in cursor.fetchall()}
        columns = {f.column for f in model._meta.concrete_fields}
        assert watched == columns - set(results_version.UNWATCHED[table])
