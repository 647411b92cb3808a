"""schemathesis over every API operation, as anonymous, non-staff and staff: no 500, schema-true.

Every operation in the generated schema (reads and writes) gets a few
derandomized examples of valid data and of invalid data per role, sent
through Django's WSGI app inside the test's transaction with the ``world``
rows, so lists, filters and writes meet real data. Each answer must not be a
server error, must have a documented status and content type, and must match
its documented body. Failures are collected per operation (not shrunk, to
keep the run short) and listed together.
"""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
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
EXAMPLES = 3
# The schema document itself is not a resource (and is the slowest page to build).
SKIPPED_PATHS = {"/api/schema/"}
ROLES = ["anonymous", "member", "staff"]


def schema_document() -> dict:
    """The OpenAPI document as a client downloads it (built here without a request)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


def operations() -> list[tuple[str, str]]:
    """(path, METHOD) of every operation in the schema."""
    paths = schema_document()["paths"]
    return sorted(
        (path, method.upper())
        for path, methods in paths.items()
        if path not in SKIPPED_PATHS
        for method in methods
        if method in {"get", "post", "put", "patch", "delete"}
    )


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


def headers_for(role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    user = User.objects.create_user(role, password="pw-123456", is_staff=role == "staff")
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def failures_of(operation, mode: GenerationMode, headers: dict[str, str]) -> list[str]:
    """The distinct failures of ``operation`` over its examples (empty when all pass)."""
    found: list[str] = []
    seen: set[str] = set()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported, not shrunk
            kinds = " ".join(sorted(set(re.findall(r"- (ST\d+ [^\n]+)", str(exc)))))
            if kinds not in seen:  # one example of each kind of failure per operation
                seen.add(kinds)
                found.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])

    try:
        run()
    except Unsatisfiable:
        # Negative mode on an operation with nothing to make invalid (no parameters, no body).
        assert mode == GenerationMode.NEGATIVE, operation.path
    return found


@pytest.mark.django_db
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("role", ROLES)
def test_it_answers_every_operation_within_its_schema(role, mode, world, keep_the_test_connection):
    schema = schemathesis.openapi.from_dict(schema_document())
    schema.app = get_wsgi_application()
    headers = headers_for(role)
    failures = []
    for path, method in operations():
        operation = schema[path][method]
        raw = operation.definition.raw
        if mode == GenerationMode.NEGATIVE and not (raw.get("parameters") or "requestBody" in raw):
            continue  # nothing to make invalid
        failures += failures_of(operation, mode, headers)
    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)


def test_it_covers_every_resource_and_the_writes():
    ops = set(operations())
    for resource in ("datasets", "models", "techniques", "plans", "artifacts", "devices", "jobs"):
        assert (f"/api/{resource}/", "GET") in ops
    assert {("/api/results/export", "GET"), ("/api/pareto", "GET")} <= ops
    assert {("/api/devices/", "POST"), ("/api/devices/{id}/", "PATCH")} <= ops
    assert {("/api/jobs/", "POST"), ("/api/results/import", "POST")} <= ops
    assert ("/api/recommend", "POST") in ops and len(ops) >= 30
