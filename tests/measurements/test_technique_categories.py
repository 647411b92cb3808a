"""Technique categories and scopes: one TensorFlow-free registry feeds the database choices."""

import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError

from compression.categories import CATEGORIES, SCOPES
from measurements.models import Technique


def test_it_derives_the_technique_choices_from_the_compression_registry():
    category = Technique._meta.get_field("category")
    scope = Technique._meta.get_field("applies_to")
    assert tuple(code for code, _ in category.choices) == CATEGORIES
    assert tuple(code for code, _ in scope.choices) == SCOPES
    assert "convolution decomposition" in CATEGORIES and SCOPES == ("fc", "conv", "model")
    assert max(map(len, CATEGORIES)) <= category.max_length
    assert max(map(len, SCOPES)) <= scope.max_length


def test_it_reads_the_registry_without_importing_tensorflow():
    check = "import compression.categories, sys; print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False"]


@pytest.mark.django_db
def test_it_labels_a_category_and_refuses_one_the_registry_lacks():
    row = Technique(code="W9", name="w9", category="pruning", applies_to="fc", description="d")
    row.full_clean()
    row.save()
    assert Technique.objects.get(code="W9").get_category_display() == "Pruning"
    row.category = "sparsification"
    with pytest.raises(ValidationError, match="sparsification"):
        row.full_clean()
    assert Technique.objects.get(code="W9").category == "pruning"
