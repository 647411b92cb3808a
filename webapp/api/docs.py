"""GET /api/docs/: a plain page listing every operation, linking the OpenAPI schema.

Swagger UI needs its JavaScript and CSS, which drf-spectacular fetches from a
CDN by default; Compresso works offline, and drf-spectacular-sidecar (which
bundles them) is not installed. This page needs neither: it renders the
generated schema as an HTML table on the server.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 72rem; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #ddd; padding: .35rem .5rem; text-align: left;
  vertical-align: top; }
code { font-size: .95em; }
.params { color: #555; font-size: .9em; }
</style></head><body>
<h1>{{ title }} <small>{{ version }}</small></h1>
<p>{{ description }}</p>
<p>The machine-readable schema: <a href="{{ schema_url }}">OpenAPI 3 (YAML)</a>,
<a href="{{ schema_url }}?format=json">JSON</a>. {% if public_read %}Reading is open in this lab;
writing needs{% else %}Reading and writing need{% endif %} a token
(<code>Authorization: Token &lt;key&gt;</code>) or a signed-in session; deleting needs staff.</p>
<table>
<thead><tr><th>Method</th><th>Path</th><th>What it does</th></tr></thead>
<tbody>
{% for op in operations %}<tr>
<td><code>{{ op.method }}</code></td><td><code>{{ op.path }}</code></td>
<td>{{ op.summary }}{% if op.params %}<div class="params">Parameters:
{{ op.params|join:", " }}</div>{% endif %}</td>
</tr>{% endfor %}
</tbody></table></body></html>
"""


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per path and method: its summary and query parameter names."""
    found = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            if method == "parameters":
                continue
            text = operation.get("summary") or operation.get("description", "")
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": text.split("\n\n")[0],
                    "params": [p["name"] for p in operation.get("parameters", [])],
                }
            )
    return found


def docs(request: HttpRequest) -> HttpResponse:
    """The API's operations as an HTML page (no JavaScript, nothing from a CDN)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    info = schema.get("info", {})
    context = {
        "title": info.get("title", "API"),
        "version": info.get("version", ""),
        "description": info.get("description", ""),
        "schema_url": reverse("api:schema"),
        "operations": operations(schema),
        "public_read": settings.PUBLIC_READ,
    }
    return HttpResponse(engines["django"].from_string(PAGE).render(context))
