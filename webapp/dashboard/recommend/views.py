"""The Recommend page: the selector's answer for a model on a device, and "measure next".

The selector (and, for the DQN, Keras) is imported when a recommendation is
asked for, never when the web process starts.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from measurements import actions
from webapp.dashboard.recommend.forms import QueueForm, RecommendForm, SearchOptionsForm

UNITS = {"accuracy_pct": "%", "latency_ms": "ms", "energy_mj": "mJ", "storage_mb": "MB"}
BUDGET_LABELS = {
    "min_accuracy_pct": "minimum accuracy (%)",
    "max_energy_mj": "maximum energy (mJ)",
    "latency_ms": "latency budget (ms)",
    "storage_mb": "storage budget (MB)",
}


@require_GET
@login_required  # it runs the selector (and the DQN): never for anonymous visitors
def recommend(request: HttpRequest) -> HttpResponse:
    """The form; with a submitted form, the best plan, runners-up, chart and measure-next."""
    submitted = "model" in request.GET
    form = RecommendForm(request.GET if submitted else None)
    answer = None
    if submitted and form.is_valid():
        from measurements.recommend import finite_json, recommend_for

        data = form.cleaned_data
        answer = finite_json(
            recommend_for(
                data["model"], data["device"], data["budgets"], data["strategy"], data["threads"]
            )
        )
        _annotate(answer)
    return render_page(request, form, SearchOptionsForm(), answer)


def render_page(
    request: HttpRequest,
    form: RecommendForm,
    search_form: SearchOptionsForm,
    answer: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    from measurements.search import Search

    searches = Search.objects.select_related("model", "device")
    if not request.user.is_staff:
        searches = searches.filter(owner=request.user)
    context = {
        "form": form,
        "search_form": search_form,
        "answer": answer,
        "searches": searches[:10],
        "title": "Recommend",
    }
    return render(request, "dashboard/recommend/recommend.html", context, status=status)


def _annotate(answer: dict[str, Any]) -> None:
    """Rows the template prints: each figure with its unit and provenance."""
    for group in ("ranked", "closest"):
        for plan in answer[group]:
            plan["rows"] = [
                {"name": name, "unit": unit, **plan["figures"][name]}
                for name, unit in UNITS.items()
            ]
            for budget, change in plan.get("relax", {}).items():
                change["label"] = BUDGET_LABELS[budget]
    answer["binding_label"] = BUDGET_LABELS.get(answer["binding"] or "", "")
    chosen = {p["plan"] for p in answer["ranked"]}
    for point in answer["front"]:
        point["ranked"] = point["plan"] in chosen


@require_POST
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Queue the measure-next plans on the device (one click on the page)."""
    form = QueueForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Could not queue: " + "; ".join(_flat(form.errors)))
        return redirect(reverse("dashboard:recommend:recommend"))
    data = form.cleaned_data
    if not form.plan_texts():
        messages.error(request, "Could not queue: no plan was given.")
        return redirect(reverse("dashboard:recommend:recommend"))
    try:
        jobs = actions.queue_jobs(
            [data["model"]], form.plan_texts(), [data["device"]], [data["threads"]],
            user=request.user,
        )  # fmt: skip
    except ValueError as error:
        messages.error(request, f"Could not queue: {error}")
        return redirect(reverse("dashboard:recommend:recommend"))
    messages.success(request, f"Queued {len(jobs)} job{'s' if len(jobs) != 1 else ''}.")
    return redirect(reverse("dashboard:manage:jobs"))


def _flat(errors: dict[str, list[str]]) -> list[str]:
    return [f"{field}: {message}" for field, items in errors.items() for message in items]
