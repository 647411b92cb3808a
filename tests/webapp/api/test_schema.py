"""schemathesis against /api/schema/: the read endpoints answer within their schema.

Each GET operation is its own test: schemathesis generates 5 derandomized
examples of valid data and 5 of invalid data for it, sends them through
Django's WSGI app (inside the test's transaction, with the ``world`` rows so
lists and filters find real data) and checks that no answer is a 500, an
undocumented status code or content type, or a body that breaks the schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The schema document itself is not a resource (and is the slowest page to build).
SKIPPED_PATHS = {"/api/schema/"}


@pytest.fixture
def keep_the_test_connection():
    """Stop Django closing the DB connection after each request, as its test Client does.

    Inside the test's transaction autocommit is off, which ``close_old_connections``
    reads as a broken connection; on PostgreSQL it would close the test's own.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def read_operations() -> list[str]:
    """Every GET path in the generated schema (built here without a request)."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted(p for p, methods in paths.items() if "get" in methods and p not in SKIPPED_PATHS)


@pytest.mark.django_db
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", read_operations())
def test_it_answers_every_read_within_its_schema(path, mode, world, keep_the_test_connection):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    operation = schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=5,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_within_schema(case):
        case.call_and_validate(checks=CHECKS)

    answers_within_schema()


def test_it_covers_every_resource_and_the_export_and_pareto_reads():
    paths = set(read_operations())
    for resource in ("datasets", "models", "techniques", "plans", "artifacts", "devices", "jobs"):
        assert f"/api/{resource}/" in paths
    assert {"/api/results/", "/api/results/{id}/", "/api/results/export", "/api/pareto"} <= paths
