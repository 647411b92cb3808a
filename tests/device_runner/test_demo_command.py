"""`manage.py demo`: a real architecture (ResNet-8) on upscaled digits, queued once, idempotent."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from measurements.actions import standard_sweep_texts
from measurements.models import Dataset, DNNModel, Job

pytestmark = pytest.mark.django_db


def test_it_trains_the_demo_resnet_on_32x32_digits_and_queues_the_sweep_once(
    settings, tmp_path, capsys
):
    settings.MEDIA_ROOT = str(tmp_path)
    call_command("loadcatalogue")
    call_command("demo", "--epochs", "1", "--no-run")
    dataset = Dataset.objects.get(name="digits32")
    assert dataset.input_shape == [32, 32, 1]
    model = DNNModel.objects.get(name="resnet8-digits32")
    assert (model.architecture, model.dataset_id) == ("resnet", dataset.pk)
    queued = Job.objects.filter(artifact__model=model)
    assert queued.count() == 2 * len(standard_sweep_texts())
    assert set(queued.values_list("num_threads", flat=True)) == {1, 2}
    assert get_user_model().objects.get(username="demo").is_staff

    call_command("demo", "--epochs", "1", "--no-run")
    assert DNNModel.objects.filter(name="resnet8-digits32").count() == 1
    assert Job.objects.count() == queued.count()
    out = capsys.readouterr().out
    assert "Queued 0 job(s)" in out and "Log in with demo / compresso-demo" in out
