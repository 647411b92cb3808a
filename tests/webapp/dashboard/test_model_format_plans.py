"""The new-jobs form offers a .tflite model only the techniques that act on it."""

from __future__ import annotations

import pytest

from measurements import actions
from measurements.models import Artifact, Job
from tests.factories import make_device, make_model

pytestmark = pytest.mark.django_db

NEW = "/jobs/new/"


@pytest.fixture
def logged_in(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("erin"))
    actions.load_catalogue()
    return client


def _data(model, device, **fields) -> dict:
    base = {"models": [model.pk], "devices": [device.pk], "threads": "1", "plans": ""}
    return {**base, "include_baseline": "on", "action": "queue", **fields}


def test_it_queues_only_the_tflite_sweep_for_a_tflite_model(logged_in):
    model, device = make_model(format="tflite"), make_device()
    logged_in.post(NEW, _data(model, device, standard_sweep="on"))
    queued = set(Job.objects.values_list("artifact__plan__canonical", flat=True))
    assert queued == set(actions.standard_sweep_texts("tflite"))
    assert any(text.startswith("AQ-") for text in queued)
    assert not any(text.startswith(("W3", "C2", "TP")) for text in queued)


def test_it_refuses_a_keras_only_plan_for_a_tflite_model_and_writes_nothing(logged_in):
    model, device = make_model(format="tflite"), make_device()
    body = logged_in.post(NEW, _data(model, device, plans="W3(s=0.5)")).content.decode()
    assert "W3 cannot compress" in body and "it is a tflite model" in body
    assert (Job.objects.count(), Artifact.objects.count()) == (0, 0)
    page = logged_in.get(NEW).content.decode()
    assert "W3 · " in page and "(Keras only)" in page
