"""Database constraints protect the data on SQLite and PostgreSQL alike."""

import pytest
from django.db import IntegrityError, transaction

from measurements.models import Artifact, Result
from tests.factories import (
    make_artifact,
    make_dataset,
    make_device,
    make_job,
    make_model,
    make_plan,
    make_result,
)

pytestmark = pytest.mark.django_db


def refused(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


def test_it_refuses_a_duplicate_plan():
    make_plan("C2@conv2 + W3(s=0.6)@fc1,fc2")
    assert refused(lambda: make_plan("C2@conv2 + W3(s=0.6)@fc1,fc2"))


def test_it_refuses_a_second_artifact_for_the_same_model_and_plan():
    artifact = make_artifact()
    assert refused(lambda: Artifact.objects.create(model=artifact.model, plan=artifact.plan))
    assert Artifact.objects.count() == 1


def test_it_refuses_a_negative_latency():
    assert refused(lambda: make_result(latency_mean_ms=-0.1))
    assert Result.objects.count() == 0


def test_it_refuses_a_negative_energy_and_memory():
    assert refused(lambda: make_result(energy_mj=-1.0))
    assert refused(lambda: make_result(peak_memory_bytes=-5))


def test_it_refuses_an_accuracy_outside_zero_to_one():
    assert refused(lambda: make_result(accuracy=1.2))
    assert refused(lambda: make_artifact(accuracy=-0.01))


def test_it_refuses_a_second_result_for_one_job():
    job = make_job()
    make_result(job=job)
    assert refused(lambda: make_result(job=job))


def test_it_allows_many_imported_results_without_a_job():
    artifact, device = make_artifact(), make_device()
    for _ in range(2):
        Result.objects.create(artifact=artifact, device=device, source="imported", job=None)
    assert Result.objects.filter(job__isnull=True).count() == 2


def test_it_refuses_a_job_progress_above_one_and_zero_threads():
    assert refused(lambda: make_job(progress=1.5))
    assert refused(lambda: make_job(num_threads=0))


def test_it_refuses_a_negative_parameter_count_and_a_one_class_dataset():
    assert refused(lambda: make_model(param_count=-1))
    assert refused(lambda: make_dataset(num_classes=1))


def test_it_refuses_deleting_a_plan_that_artifacts_use():
    from django.db.models import ProtectedError

    artifact = make_artifact()
    with pytest.raises(ProtectedError):
        artifact.plan.delete()
