"""Model formats: one registry feeds the database choices; techniques apply by format."""

import pytest

from compression.formats import MODEL_FORMATS
from compression.formats.registry import format_for_filename, get_format
from compression.techniques import all_techniques
from measurements.actions.model_formats import refuse_inapplicable, technique_codes_for
from measurements.models import Dataset, DNNModel


def test_it_derives_the_model_choices_from_the_format_registry():
    choices = [code for code, _ in DNNModel._meta.get_field("format").choices]
    assert tuple(choices) == MODEL_FORMATS == ("keras", "tflite", "pt2")
    assert get_format("pt2").needs_conversion and not get_format("tflite").needs_conversion


def test_it_names_the_format_from_the_file_suffix_and_refuses_others():
    assert format_for_filename("Net.TFLITE").code == "tflite"
    assert format_for_filename("net.pt2").code == "pt2"
    with pytest.raises(ValueError, match="Received: filename='net.pth'"):
        format_for_filename("net.pth")
    with pytest.raises(ValueError, match="Received: code='onnx'"):
        get_format("onnx")


def _model(fmt: str) -> DNNModel:
    dataset = Dataset.objects.create(name=f"d-{fmt}", input_shape=[8, 8, 1], num_classes=2)
    return DNNModel.objects.create(
        name=f"m-{fmt}", architecture="cnn", dataset=dataset, format=fmt, file=f"models/m.{fmt}"
    )


@pytest.mark.django_db
def test_it_offers_a_tflite_model_only_techniques_that_accept_tflite():
    model = _model("tflite")
    codes = technique_codes_for(model)
    assert codes == [t.code for t in all_techniques("tflite")]
    assert "AQ-dyn" in codes and "W3" not in codes
    refuse_inapplicable(model, ["AQ-dyn"])
    with pytest.raises(ValueError, match="W3 cannot compress m-tflite: it is a tflite model"):
        refuse_inapplicable(model, ["AQ-dyn", "W3"])
    # Each refused technique names what it does take: not every refusal is "Keras only".
    with pytest.raises(ValueError, match=r"TP acts on pt2 models only; W3 acts on keras models"):
        refuse_inapplicable(model, ["TP", "W3"])


@pytest.mark.django_db
def test_it_stores_a_pt2_models_conversion_figures():
    model = _model("pt2")
    model.conversion_max_abs_diff, model.conversion_seconds = 2e-8, 1.5
    model.input_layout = "NCHW"
    model.save()
    model.refresh_from_db()
    assert (model.format, model.input_layout, model.conversion_max_abs_diff) == (
        "pt2",
        "NCHW",
        2e-8,
    )
    assert "TP" in technique_codes_for(model)


@pytest.mark.django_db
def test_it_refuses_to_queue_a_keras_only_plan_on_a_tflite_model_and_writes_nothing():
    from measurements.actions import queue_jobs
    from measurements.models import Artifact, Device, Job

    model = _model("tflite")
    device = Device.objects.create(name="here", kind="local")
    with pytest.raises(ValueError, match="W3 cannot compress m-tflite"):
        queue_jobs([model], ["baseline", "W3(s=0.5)"], [device], [1])
    assert (Job.objects.count(), Artifact.objects.count()) == (0, 0)
    assert len(queue_jobs([model], ["baseline", "AQ-dyn"], [device], [1])) == 2


def test_it_builds_a_standard_sweep_for_each_format():
    from measurements.actions import standard_sweep_texts

    tflite_sweep = standard_sweep_texts("tflite")
    assert tflite_sweep[0] == "baseline"
    assert any(t.startswith("AQ-") for t in tflite_sweep)
    assert not any(t.startswith(("W3", "TP")) for t in tflite_sweep)
    assert any(t.startswith("TP") for t in standard_sweep_texts("pt2"))
