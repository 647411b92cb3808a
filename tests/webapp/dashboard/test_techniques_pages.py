"""Technique pages: the catalogue by category and one technique with its plans."""

from __future__ import annotations

import re

import pytest

from measurements.models import Technique
from tests.factories import make_artifact, make_job, make_plan, make_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("carol"))
    return client


def technique(code: str, category: str, **fields) -> Technique:
    defaults = {"name": f"{code} name", "applies_to": "fc", "description": f"{code} does things"}
    return Technique.objects.create(code=code, category=category, **{**defaults, **fields})


def test_it_groups_the_catalogue_by_category_with_plan_counts(logged_in):
    w3 = technique("W3", "pruning", default_params={"threshold": 0.001})
    technique("Ps", "pruning")
    technique("Q-int8", "quantization", applies_to="model")
    for text in ("W3(s=0.5)@fc1", "W3(s=0.7)@fc1"):
        make_plan(text).techniques.add(w3)
    body = logged_in.get("/techniques/").content.decode()
    headings = re.findall(r"<h2>(.*?)</h2>", body)
    assert headings == ["Pruning", "Quantization"]
    w3_row = re.search(r'href="/techniques/W3/".*?</tr>', body, re.S).group(0)
    assert "threshold=0.001" in w3_row and w3_row.endswith('<td class="num">2</td>\n      </tr>')
    assert 'href="/techniques/Q-int8/"' in body
    assert "None" not in body


def test_it_says_how_to_load_an_empty_catalogue(logged_in):
    body = logged_in.get("/techniques/").content.decode()
    assert "loadcatalogue" in body


def test_it_shows_a_technique_with_the_plans_that_use_it(logged_in):
    q = technique(
        "Q-int8",
        "quantization",
        applies_to="model",
        default_params={"samples": 200},
        reference="Jacob et al., CVPR 2018",
    )
    plan = make_plan("W3@fc1 + Q-int8")
    plan.techniques.add(q)
    artifact = make_artifact(plan=plan)
    make_result(job=make_job(artifact=artifact))
    body = logged_in.get("/techniques/Q-int8/").content.decode()
    assert "Q-int8 does things" in body and "Jacob et al., CVPR 2018" in body
    assert "Q-int8(samples=200)" in body  # how to write it with its parameters
    plan_row = re.search(r"<code>W3@fc1 \+ Q-int8</code>.*?</tr>", body, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', plan_row) == ["1", "1"]
    assert "/jobs/new/?techniques=Q-int8" in body
    assert "None" not in body


def test_it_answers_404_for_an_unknown_code(logged_in):
    assert logged_in.get("/techniques/NOPE/").status_code == 404


def test_it_shows_an_automatic_default_as_auto_not_none(logged_in):
    from measurements.models import Technique

    Technique.objects.create(
        code="C1",
        name="Sparse kernels",
        category="convolution decomposition",
        applies_to="conv",
        default_params={"basis": None, "sparsity": 0.7},
        description="d",
    )
    body = logged_in.get("/techniques/").content.decode()
    assert "basis=auto" in body and "None" not in body
    detail = logged_in.get("/techniques/C1/").content.decode()
    assert "C1(basis=none, sparsity=0.7)" in detail


def test_it_says_keras_only_or_any_model_per_technique(logged_in):
    technique("W3", "pruning", accepts=["keras"])
    technique("AQ-dyn", "quantization", applies_to="model", accepts=["keras", "tflite", "pt2"])
    body = logged_in.get("/techniques/").content.decode()
    w3_row = re.search(r'href="/techniques/W3/".*?</tr>', body, re.S).group(0)
    aq_row = re.search(r'href="/techniques/AQ-dyn/".*?</tr>', body, re.S).group(0)
    assert "Keras only" in w3_row and "any model" not in w3_row
    assert "any model" in aq_row and "Keras only" not in aq_row


def test_it_says_which_layers_a_technique_acts_on(logged_in):
    technique("C2", "convolution decomposition", applies_to="conv", acts_on="spatial Conv2D")
    technique("Cl", "clustering", applies_to="model")  # loaded before acts_on existed
    listing = logged_in.get("/techniques/").content.decode()
    c2_row = re.search(r'href="/techniques/C2/".*?</tr>', listing, re.S).group(0)
    assert "<th>Acts on</th>" in listing and ">spatial Conv2D</td>" in c2_row
    cl_row = re.search(r'href="/techniques/Cl/".*?</tr>', listing, re.S).group(0)
    assert ">whole model</td>" in cl_row  # falls back to the scope, never blank
    detail = logged_in.get("/techniques/C2/").content.decode()
    assert '<dd class="acts-on">spatial Conv2D</dd>' in detail
