"""The OpenAPI schema and the offline docs page."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_it_serves_the_openapi_schema_as_json(reader):
    response = reader.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.") and schema["info"]["title"] == "Compresso API"
    assert "post" in schema["paths"]["/api/results/import"]
    export = schema["paths"]["/api/results/export"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/x-ndjson", "application/vnd.apache.parquet"} <= set(export)


def test_it_serves_swagger_ui_from_local_static_files(reader):
    response = reader.get("/api/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "swagger-ui" in body and "/static/drf_spectacular_sidecar/" in body
    assert "/api/schema/" in body
    assert not re.search(r"(src|href)=\"https?://", body)


def test_it_serves_a_reference_page_that_needs_nothing_from_the_network(client, user):
    client.force_login(user)  # a page, not an API view: a session login
    response = client.get("/api/reference/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/api/schema/"' in body
    assert "/api/results/export" in body and "/api/jobs/{id}/cancel/" in body
    assert "<script" not in body and not re.search(r"(src|href)=\"https?://", body)


def test_it_lists_the_api_root(reader):
    response = reader.get("/api/")
    assert response.status_code == 200 and "results" in response.json()


@pytest.mark.parametrize(
    ("public", "says"),
    [(False, "Reading and writing need a token"), (True, "Reading is open in this lab")],
)
def test_it_says_who_may_read_as_this_lab_is_set(client, user, settings, public, says):
    settings.PUBLIC_READ = public
    client.force_login(user)
    body = " ".join(client.get("/api/reference/").content.decode().split())
    assert says in body
