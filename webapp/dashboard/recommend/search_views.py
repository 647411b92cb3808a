"""A search that measures as it goes, on the Recommend page: start it, watch it, stop it.

Starting one queues jobs, so it is a POST; watching it advances it one step
(a job that finished is read and the next plan asked for) and the page
refreshes itself while it runs. A search is its owner's and staff's: anyone
else gets a 404, as if it did not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from measurements import actions
from measurements.search import Search
from webapp.dashboard.recommend.forms import RecommendForm, SearchOptionsForm
from webapp.dashboard.recommend.views import UNITS, render_page

REFRESH_SECONDS = 2


@require_POST
@login_required
def start(request: HttpRequest) -> HttpResponse:
    """Start a search from the page's form; the form again with each error (400)."""
    form, options = RecommendForm(request.POST), SearchOptionsForm(request.POST)
    if not (form.is_valid() & options.is_valid()):  # both, so every error shows
        return render_page(request, form, options, status=400)
    from compression.selection import SEARCH_STRATEGIES

    data, extra = form.cleaned_data, options.cleaned_data
    if data["strategy"] not in SEARCH_STRATEGIES:
        form.add_error(
            "strategy",
            f"A search that measures as it goes runs {' or '.join(SEARCH_STRATEGIES)}. "
            f"Received: strategy={data['strategy']!r}",
        )
        return render_page(request, form, options, status=400)
    try:
        search = actions.start_search(
            request.user, data["model"], data["device"], data["budgets"],
            extra["evaluations"], data["threads"], extra["techniques"],
            allow_predicted=extra["allow_predicted"], strategy=data["strategy"],
        )  # fmt: skip
    except ValueError as error:
        options.add_error(None, str(error))
        return render_page(request, form, options, status=400)
    return redirect("dashboard:recommend:search", pk=search.pk)


def _mine(request: HttpRequest, pk: int) -> Search:
    search = Search.objects.select_related("model", "device").filter(pk=pk).first()
    if search is None or not search.visible_to(request.user):
        raise Http404("No such search of yours.")
    return search


@require_GET
@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The search's progress; each look advances it one step."""
    from measurements.recommend import finite_json

    search = actions.advance_search(_mine(request, pk))
    progress = finite_json(search.to_dict())
    for plan in [progress["best"], *progress["ranked"], *progress["closest"]]:
        if plan:
            plan["rows"] = [
                {"name": name, "unit": unit, **plan["figures"][name]}
                for name, unit in UNITS.items()
            ]
    context = {
        "search": search,
        "progress": progress,
        "refresh": REFRESH_SECONDS if not search.finished else None,
        "title": f"Search {search.pk}",
    }
    return render(request, "dashboard/recommend/search.html", context)


@require_POST
@login_required
def stop(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop the search; the jobs it queued that have not started are cancelled."""
    search = actions.stop_search(_mine(request, pk))
    messages.success(request, f"Search {search.pk} stopped after {search.spent} evaluations.")
    return redirect("dashboard:recommend:search", pk=search.pk)
