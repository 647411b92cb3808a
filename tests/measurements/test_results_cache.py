"""Values computed from result queries, kept until the results version moves."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from measurements import results_cache
from measurements.models import Result
from tests.factories import make_result

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("empty_results_cache"),
]
ON_POSTGRES = connection.vendor == "postgresql"


def counted(results, tag="count"):
    calls = []

    def compute():
        calls.append(1)
        return {"n": np.array([results.count()])}

    return lambda: results_cache.memoized(results, tag, compute), calls


def test_it_computes_once_until_a_result_changes():
    result = make_result()
    read, calls = counted(Result.objects.order_by())
    assert read()["n"][0] == 1 and read()["n"][0] == 1
    assert len(calls) == (1 if ON_POSTGRES else 2)
    Result.objects.filter(pk=result.pk).update(runs=7)
    read()
    assert len(calls) == (2 if ON_POSTGRES else 3)
    make_result()
    assert read()["n"][0] == 2  # a new result shows on the next read


def test_it_keeps_values_apart_by_sql_and_tag():
    make_result(num_threads=1)
    one, _ = counted(Result.objects.filter(num_threads=1))
    two, _ = counted(Result.objects.filter(num_threads=2))
    other_tag, _ = counted(Result.objects.filter(num_threads=1), tag="other")
    assert (one()["n"][0], two()["n"][0], other_tag()["n"][0]) == (1, 0, 1)


def test_it_hands_out_read_only_arrays():
    make_result()
    read, _ = counted(Result.objects.order_by())
    value = read()
    if ON_POSTGRES:
        with pytest.raises(ValueError, match="read-only"):
            value["n"][0] = 5
    else:  # nothing kept: each caller gets its own value
        value["n"][0] = 5
        assert read()["n"][0] == 1


def test_it_computes_every_time_a_query_reading_an_unversioned_table():
    make_result()
    read, calls = counted(Result.objects.filter(job__status="succeeded"))
    read(), read()
    assert len(calls) == 2
    assert results_cache.versioned(str(Result.objects.filter(device__name="x").query))
    assert not results_cache.versioned(str(Result.objects.filter(job__status="x").query))
    assert not results_cache.versioned(str(Result.objects.filter(device__online=True).query))


def test_it_drops_the_least_recently_used_beyond_its_budget(monkeypatch):
    make_result()
    monkeypatch.setattr(results_cache, "BUDGET_BYTES", 200)  # room for two small values
    reads = [counted(Result.objects.filter(num_threads=n)) for n in (1, 2, 3)]
    for read, _ in reads:
        read()
    reads[2][0](), reads[0][0]()  # the first was dropped, the third kept
    assert [len(calls) for _, calls in reads] == ([2, 1, 1] if ON_POSTGRES else [2, 1, 2])


def test_it_keeps_nothing_larger_than_its_whole_budget(monkeypatch):
    make_result()
    monkeypatch.setattr(results_cache, "BUDGET_BYTES", 200)
    small, small_calls = counted(Result.objects.filter(num_threads=1))
    small()
    huge_calls = []

    def compute():
        huge_calls.append(1)
        return {"n": np.zeros(100)}  # 800 bytes

    results = Result.objects.order_by()
    for _ in range(2):
        results_cache.memoized(results, "huge", compute)
    small()
    assert (len(huge_calls), len(small_calls)) == (2, 1 if ON_POSTGRES else 2)
