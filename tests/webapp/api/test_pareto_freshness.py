"""/api/pareto keeps what it read between requests and still answers every change at once.

Transactional: each write commits, so the endpoint reads through the
per-process cache (measurements.results_cache), as in production.
"""

from __future__ import annotations

import pytest

from measurements.models import Job, Result
from tests.factories import make_result

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("empty_results_cache"),
]


def front_ids(reader, query: str = "x=latency&y=accuracy") -> list[int]:
    response = reader.get(f"/api/pareto?{query}")
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["front"]]


def test_it_answers_a_new_changed_and_deleted_result_on_the_next_request(reader, world):
    r = world.results
    assert front_ids(reader) == [r["int8"].pk, r["pruned"].pk, r["base"].pk]
    assert front_ids(reader) == [r["int8"].pk, r["pruned"].pk, r["base"].pk]
    job = Job.objects.create(artifact=r["base"].artifact, device=world.laptop, num_threads=1)
    best = make_result(job=job, latency_mean_ms=0.5, accuracy=0.99)
    assert front_ids(reader) == [best.pk]  # a new result (its plan's newest) beats the rest
    Result.objects.filter(pk=best.pk).update(latency_mean_ms=1.0)
    assert front_ids(reader) == [r["int8"].pk, best.pk]  # changed: int8 is faster again
    Result.objects.filter(pk=best.pk).delete()
    assert front_ids(reader) == [r["int8"].pk, r["pruned"].pk, r["base"].pk]
    assert not Result.objects.filter(pk=best.pk).exists()


def test_it_filters_on_job_status_afresh_every_time(reader, world):
    r = world.results
    done = "x=latency&y=accuracy&status=succeeded"
    assert front_ids(reader, done) == [r["int8"].pk, r["pruned"].pk, r["base"].pk]
    Job.objects.filter(pk=world.jobs["int8"].pk).update(status="failed")  # jobs: not versioned
    assert front_ids(reader, done) == [r["pruned"].pk, r["base"].pk]
