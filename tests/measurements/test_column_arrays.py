"""A queryset's numeric columns as arrays: the same values the ORM reads, NULL as NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from measurements.column_arrays import FLOAT, INT, column_arrays, with_ids
from measurements.models import Result
from tests.factories import make_artifact, make_device, make_result

pytestmark = pytest.mark.django_db

COLUMNS = {
    "pk": ("pk", INT),
    "threads": ("num_threads", INT),
    "latency": ("latency_mean_ms", FLOAT),
    "energy": ("energy_mj", FLOAT),
    "size": ("artifact__file_size", FLOAT),
}


def test_it_reads_each_column_aligned_by_row_with_missing_figures_as_nan():
    small = make_artifact(file_size=123_456_789_012)  # beyond 32 bits, exact in a double
    device = make_device(name="50% off")  # a % in a filter value must reach the database as is
    made = [
        make_result(artifact=small, device=device, num_threads=2, latency_mean_ms=0.1 + 0.2),
        make_result(artifact=make_artifact(), num_threads=4, latency_mean_ms=None, energy_mj=7.5),
    ]
    found = column_arrays(Result.objects.order_by("-pk"), COLUMNS)
    by_pk = {int(pk): i for i, pk in enumerate(found["pk"])}
    assert sorted(by_pk) == sorted(r.pk for r in made)
    first, second = by_pk[made[0].pk], by_pk[made[1].pk]
    assert found["threads"].dtype == np.int64 and found["latency"].dtype == np.float64
    assert found["threads"][first] == 2 and found["latency"][first] == 0.1 + 0.2
    assert math.isnan(found["energy"][first]) and found["size"][first] == 123_456_789_012
    assert math.isnan(found["latency"][second]) and found["energy"][second] == 7.5
    assert math.isnan(found["size"][second])  # the artifact has no file size
    filtered = column_arrays(Result.objects.filter(device__name__contains="0% o"), COLUMNS)
    assert filtered["pk"].tolist() == [made[0].pk]


def test_it_gives_empty_arrays_for_no_rows_and_for_none():
    for queryset in (Result.objects.all(), Result.objects.none()):
        found = column_arrays(queryset, COLUMNS)
        assert all(len(values) == 0 for values in found.values())
        assert found["pk"].dtype == np.int64


def test_it_reads_every_column_in_one_query():
    make_result()
    with CaptureQueriesContext(connection) as queries:
        column_arrays(Result.objects.all(), COLUMNS)
    assert len(queries.captured_queries) == 1


def test_it_names_an_unknown_column_kind():
    with pytest.raises(ValueError, match="Received: \\['text'\\]"):
        column_arrays(Result.objects.all(), {"source": ("source", "text")})


def test_it_narrows_a_queryset_to_thousands_of_ids():
    made = [make_result() for _ in range(3)]
    wanted = [made[0].pk, made[2].pk, *range(10**6, 10**6 + 3000)]  # most match nothing
    assert sorted(with_ids(Result.objects.all(), wanted).values_list("pk", flat=True)) == sorted(
        [made[0].pk, made[2].pk]
    )
    assert not with_ids(Result.objects.all(), []).exists()
