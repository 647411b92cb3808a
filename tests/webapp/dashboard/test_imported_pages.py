"""A paper's table with sizes, imported through the API, read back through every page and CLI.

Every figure comes back the same and labelled imported; the size front and the
recommendation are filled in; a plan imported twice is one point; an
accuracy-only row imported later hides no latency.
"""

from __future__ import annotations

import io
import re
from io import StringIO

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from measurements.models import Artifact, Device, DNNModel, Result
from tests.factories import make_dataset
from tests.webapp.dashboard.helpers_analysis import LEAKS, catalogue, logged_in

pytestmark = pytest.mark.django_db

LABEL = "Han et al. 2016, table 4"
PAPER = (
    "model,dataset,device,plan,threads,latency_mean_ms,accuracy,energy_mj,"
    "file_size,gzip_size,macs,sp_bits,sf_bits,params\n"
    "vgg-paper,cifar10,pixel-9,baseline,1,40.0,0.91,120.0,"
    "58000000,53000000,313000000,460000000,9000000,14700000\n"
    "vgg-paper,cifar10,pixel-9,baseline,4,14.0,0.91,95.0,"
    "58000000,53000000,313000000,460000000,9000000,14700000\n"
    "vgg-paper,cifar10,pixel-9,W3(s=0.8)@fc1,1,33.0,0.905,100.0,"
    "58000000,21000000,300000000,100000000,9000000,14700000\n"
    "vgg-paper,cifar10,pixel-9,W3(s=0.8)@fc1 + Q-int8,1,12.0,0.89,30.0,"
    "14500000,6000000,300000000,25000000,2300000,14700000\n"
    "vgg-paper,cifar10,pixel-9,W3(s=0.8)@fc1 + Q-int8,4,5.0,0.89,22.0,"
    "14500000,6000000,300000000,25000000,2300000,14700000\n"
)


@pytest.fixture
def paper(db):
    catalogue()
    make_dataset(name="cifar10", num_classes=10)
    client = APIClient()
    from django.contrib.auth.models import User

    client.force_authenticate(User.objects.create_user("importer"))
    data = {
        "file": SimpleUploadedFile("paper.csv", PAPER.encode()),
        "source_label": LABEL,
        "create_missing": "true",
    }
    response = client.post("/api/results/import", data, format="multipart")
    assert response.status_code == 201, response.content
    return client


def page(url: str) -> str:
    response = logged_in().get(url)
    assert response.status_code == 200, url
    text = response.content.decode()
    assert not LEAKS.search(text), LEAKS.search(text)
    return text


def test_it_creates_a_reference_model_and_an_external_device(paper):
    assert DNNModel.objects.get(name="vgg-paper").is_reference
    assert Device.objects.get(name="pixel-9").kind == "external"
    quantized = Artifact.objects.get(plan__canonical="W3(s=0.8)@fc1 + Q-int8")
    assert (quantized.export_mode, quantized.status) == ("int8", "imported")


def test_it_fills_the_size_front_labelled_imported(paper):
    text = page("/pareto/?x=size&y=accuracy")
    assert f"imported ({LABEL})" in text
    assert "W3(s=0.8)@fc1 + Q-int8" in text and "14.5 MB" in text  # 14,500,000 B
    energy = page("/pareto/?x=energy&y=accuracy")
    assert "3 imported" in energy  # the energy axis counts imported figures as such
    assert "estimated (" not in energy and "measured (" not in energy


def test_it_keeps_one_point_per_plan_and_the_newest_figure_shown(paper):
    # The same paper again (duplicates, skipped), then an accuracy-only row for the baseline.
    again = SimpleUploadedFile("paper.csv", PAPER.encode())
    body = {"file": again, "source_label": LABEL}
    assert paper.post("/api/results/import", body, format="multipart").status_code == 200
    later = SimpleUploadedFile(
        "later.csv", b"model,device,plan,accuracy\nvgg-paper,pixel-9,baseline,0.92\n"
    )
    response = paper.post(
        "/api/results/import", {"file": later, "source_label": "errata"}, format="multipart"
    )
    assert response.status_code == 201
    front = paper.get("/api/pareto?x=size&y=accuracy&threads=1").json()
    plans = [r["plan"] for r in front["front"]]
    assert len(plans) == len(set(plans))
    assert front["front"][0]["figure_sources"]["static"]["file_size"] == f"imported ({LABEL})"
    compare = page("/compare/")
    assert "1.21" in compare  # speedup 40 / 33: the baseline's latency still shown
    csv = logged_in().get("/compare.csv").content.decode()
    frame = pd.read_csv(io.StringIO(csv))
    row = frame.set_index("plan").loc["W3(s=0.8)@fc1"]
    assert row.speedup_x == pytest.approx(40 / 33) and row.figures_source == f"imported ({LABEL})"


def test_it_shows_an_imported_result_without_claiming_runs_or_stability(paper):
    result = Result.objects.get(artifact__plan__canonical="W3(s=0.8)@fc1")
    text = page(f"/results/{result.pk}/")
    assert f"Imported from {LABEL}" in text and "Measured on the device" not in text
    assert "not stated" in text and 'Stable</th><td class="num">yes' not in text
    assert "the host, runtime and load it ran under were not recorded" in text


def test_it_keeps_the_quantized_series_on_the_sweeps_page(paper):
    text = page("/sweeps/")
    assert "W3(s=0.8)@fc1 + Q-int8 (int8)" in text


def test_it_exports_the_same_figures_with_their_source(paper):
    response = paper.get("/api/results/export?format=csv&ordering=id")
    frame = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    assert frame["file_size"].tolist() == [58000000, 58000000, 58000000, 14500000, 14500000]
    assert set(frame["source"]) == {"imported"} and set(frame["source_label"]) == {LABEL}
    assert set(frame["static_source"]) == {f"imported ({LABEL})"}
    assert frame["export_mode"].tolist()[-1] == "int8"


def test_it_recommends_from_imported_figures_and_says_so(paper):
    out = StringIO()
    call_command("recommend", "--model", "vgg-paper", "--device", "pixel-9", stdout=out)
    text = out.getvalue()
    assert f"imported ({LABEL})" in text and "Nothing fits" not in text


def test_it_refuses_an_accuracy_budget_that_reads_as_a_fraction(paper):
    response = logged_in().get("/pareto/?min_accuracy=0.9")
    assert response.status_code == 400 and "Give 90 for 90 %" in response.content.decode()
    assert 'value="90"' in page("/pareto/?min_accuracy=90") or "90" in page(
        "/pareto/?min_accuracy=90"
    )
    answer = paper.post(
        "/api/recommend",
        {"model": "vgg-paper", "device": "pixel-9", "min_accuracy_pct": 0.9},
        format="json",
    )
    assert answer.status_code == 400 and "reads as a fraction" in str(answer.json())


def test_it_draws_a_sample_above_the_point_limit_and_keeps_the_front_exact(paper, monkeypatch):
    from webapp.dashboard.analysis import pareto_page

    def front_ids(text: str) -> list[str]:
        table = text[text.index('id="pareto-front"') :]
        return re.findall(r'<tr data-result-id="(\d+)"', table)

    whole = page("/pareto/?x=size&y=accuracy")
    assert "The plot draws" not in whole
    monkeypatch.setattr(pareto_page, "MAX_POINTS", 1)
    sampled = page("/pareto/?x=size&y=accuracy")
    assert "The plot draws" in sampled and "of the 3 plans with both figures" in sampled
    assert front_ids(sampled) == front_ids(whole) and front_ids(whole)


def test_it_spans_every_thread_count_when_asked(paper):
    one = page("/pareto/?x=latency&y=accuracy")
    every = page("/pareto/?x=latency&y=accuracy&threads=all")
    assert "3 results shown" in one and "5 results shown" in every
    assert '<option value="all" selected>' in every
