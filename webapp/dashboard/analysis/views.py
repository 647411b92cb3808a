"""Analysis pages: each view reads its filters, calls one builder, renders.

Anyone logged in may view (as every dashboard page); a query parameter the
page cannot use renders the page's error template with status 400 and the
reason, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from measurements.pareto import METRICS
from webapp.dashboard.analysis import charts, detail, pareto_page
from webapp.dashboard.analysis import compare as compare_page
from webapp.dashboard.analysis import matrix as matrix_page
from webapp.dashboard.analysis import sweeps as sweeps_page
from webapp.dashboard.analysis.params import BadQuery


def _page(
    request: HttpRequest, title: str, template: str, build: Callable[[Any], dict[str, Any]]
) -> HttpResponse:
    try:
        context = build(request.GET)
    except BadQuery as exc:
        context = {"title": title, "message": str(exc)}
        return render(request, "dashboard/analysis/bad_query.html", context, status=400)
    return render(request, template, {"title": title, **context})


def _pareto(query: Any) -> dict[str, Any]:
    page = pareto_page.explore(query)
    return {
        "page": page,
        "figure_json": charts.script_json(charts.pareto(page)),
        "front": pareto_page.front_rows(page),
        "x_metrics": [METRICS[m] for m in pareto_page.X_METRICS],
        "y_metrics": [METRICS[m] for m in pareto_page.Y_METRICS],
        "size_metrics": [METRICS[m] for m in pareto_page.SIZE_METRICS],
    }


@login_required
def pareto(request: HttpRequest) -> HttpResponse:
    """The Pareto explorer: points, per-device fronts, budgets."""
    return _page(request, "Pareto explorer", "dashboard/analysis/pareto.html", _pareto)


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Compressed results normalised to their baseline (or the CSV with ?format=csv)."""
    if request.GET.get("format") == "csv":
        return compare_csv(request)
    return _page(
        request,
        "Compare with the baseline",
        "dashboard/analysis/compare.html",
        lambda q: {"page": compare_page.build(q), "sorts": compare_page.SORTS},
    )


@login_required
def compare_csv(request: HttpRequest) -> HttpResponse:
    """The compare table's rows (every page) as a CSV download."""
    try:
        page = compare_page.build(request.GET)
    except BadQuery as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(compare_page.csv_text(page), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="compresso-compare.csv"'
    return response


@login_required
def matrix(request: HttpRequest) -> HttpResponse:
    """Devices x techniques: the best plan per cell under one objective."""
    return _page(
        request,
        "Device matrix",
        "dashboard/analysis/matrix.html",
        lambda q: {"page": matrix_page.build(q), "objectives": matrix_page.OBJECTIVES},
    )


def _sweeps(query: Any) -> dict[str, Any]:
    page = sweeps_page.build(query)
    return {"page": page, **charts.sweeps(page)}


@login_required
def sweeps(request: HttpRequest) -> HttpResponse:
    """Accuracy and size against sparsity; latency against threads."""
    return _page(request, "Sweeps", "dashboard/analysis/sweeps.html", _sweeps)


@login_required
def result(request: HttpRequest, pk: int) -> HttpResponse:
    """One result: figures, provenance, operator times and their diff, the verdict."""
    page = detail.load(pk)
    context = {"title": f"Result {pk}", "page": page, "ops_figure": charts.operators(page)}
    return render(request, "dashboard/analysis/result.html", context)
