"""The Pareto page's budgets through its URL: the selector's Budgets type, in the form's units."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_device, make_model
from tests.webapp.dashboard.helpers_analysis import (
    artifact,
    catalogue,
    logged_in,
    measure,
    plan,
    row_ids,
    step,
)

pytestmark = pytest.mark.django_db


def test_it_reads_a_file_size_budget_in_mb_and_marks_the_larger_file(viewer):
    catalogue()
    model, board = make_model(), make_device()
    small = artifact(model, plan("W3@fc1", [step("W3", ("fc1",))]), accuracy=0.8, file_size=1_000)
    large = artifact(model, plan("baseline", []), accuracy=0.9, file_size=3_000_000)
    kept = measure(small, board, latency_mean_ms=1.0)
    missed = measure(large, board, latency_mean_ms=2.0)
    body = viewer.get("/pareto/", {"max_size": "2.5"}).content.decode()
    assert set(row_ids(body, "pareto-front")) == {kept.pk, missed.pk}
    assert "misses file size ≤ 2.5 MB" in body  # 3,000,000 bytes is 3 MB (10^6 bytes)
    assert 'name="max_size" min="0" step="any" value="2.5"' in body
    assert re.search(rf'data-result-id="{kept.pk}"[^>]*class="best"', body)


def test_it_names_the_page_parameter_when_an_accuracy_reads_as_a_fraction(viewer):
    response = viewer.get("/pareto/", {"min_accuracy": "0.9"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Give 90 for 90 %" in body and "min_accuracy=0.9" in body
    assert "min_accuracy_pct" not in body


@pytest.fixture
def viewer():
    return logged_in()
