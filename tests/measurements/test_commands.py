"""The catalogue command: every registered technique once, and this host as `local`."""

import pytest
from django.core.management import call_command

from compression.techniques import all_techniques, get_technique
from measurements.models import Device, Technique

pytestmark = pytest.mark.django_db


def test_it_loads_the_catalogue_and_the_local_device_idempotently(capsys):
    call_command("loadcatalogue")
    call_command("loadcatalogue")
    codes = {cls.code for cls in all_techniques(model_format=None)}
    assert set(Technique.objects.values_list("code", flat=True)) == codes
    assert Technique.objects.get(code="AQ-dyn").accepts == ["keras", "tflite", "pt2"]
    assert Technique.objects.get(code="TP").accepts == ["pt2"]
    w3 = Technique.objects.get(code="W3")
    assert (w3.category, w3.applies_to) == ("pruning", "fc")
    assert w3.acts_on == get_technique("W3").acts_on and "Dense" in w3.acts_on
    assert w3.default_params == get_technique("W3").default_config()
    local = Device.objects.get(name="local")
    assert local.kind == "local" and local.processor
    assert Device.objects.count() == 1
    assert "techniques loaded" in capsys.readouterr().out


def test_it_builds_the_standard_sweep_from_the_registry():
    from measurements.actions import standard_sweep_texts

    texts = standard_sweep_texts()
    assert texts[0] == "baseline"
    assert {f"W3(s={s})" for s in (0.2, 0.4, 0.6, 0.8)} <= set(texts)
    assert {cls.code for cls in all_techniques()} <= set(texts)
    assert len(texts) == len(set(texts))
