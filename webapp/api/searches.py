"""Searches that measure as they go, through the API.

``POST /api/recommend`` with ``evaluations`` (N, the most plans to evaluate:
read from results, predicted, or compressed and measured) starts one (201,
with its progress and a ``Location``);
``GET /api/recommend/searches/`` lists the caller's searches (staff: all);
``GET /api/recommend/searches/<id>/`` advances the search one step and
returns its progress: evaluations spent of N, status, the best plan so far
with each figure's provenance, every evaluation and the reasons;
``POST /api/recommend/searches/<id>/stop/`` stops it. A search is its
owner's and staff's: anyone else gets a 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from measurements import actions
from measurements.search import Search
from webapp.api.permissions import SIGNED_IN

SEARCH_INPUTS = frozenset({"evaluations", "allow_predicted", "techniques"})


def start(request: Request, values: dict[str, Any], data: Mapping[str, Any]) -> Response:
    """Start a search from parsed recommend inputs; 400 naming each bad field."""
    from compression.selection import SEARCH_STRATEGIES
    from measurements.recommend import finite_json, parse_search_options

    options, errors = parse_search_options(data)
    if values["strategy"] not in SEARCH_STRATEGIES:
        errors["strategy"] = (
            f"A search that measures as it goes runs {' or '.join(SEARCH_STRATEGIES)}. "
            f"Received: strategy={values['strategy']!r}"
        )
    if errors:
        return Response(errors, status=status.HTTP_400_BAD_REQUEST)
    try:
        search = actions.start_search(
            request.user, values["model"], values["device"], values["budgets"],
            options["evaluations"], values["threads"], options["techniques"],
            values["seed"], options["allow_predicted"], values["strategy"],
        )  # fmt: skip
    except ValueError as error:
        return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
    url = f"/api/recommend/searches/{search.pk}/"
    body = {**finite_json(search.to_dict()), "url": url}
    return Response(body, status=status.HTTP_201_CREATED, headers={"Location": url})


class SearchesMixin:
    permission_classes = SIGNED_IN  # stricter than the default: a search queues jobs

    def search(self, request: Request, pk: int) -> Search:
        found = Search.objects.select_related("model", "device").filter(pk=pk).first()
        if found is None or not found.visible_to(request.user):
            raise NotFound(f"No search {pk} of yours.")
        return found


class SearchListView(SearchesMixin, APIView):
    """The caller's searches (staff: everyone's), newest first."""

    @extend_schema(operation_id="recommend_searches_list", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        from measurements.recommend import finite_json

        rows = Search.objects.select_related("model", "device")
        if not request.user.is_staff:
            rows = rows.filter(owner=request.user)
        return Response({"results": [finite_json(s.to_dict()) for s in rows[:100]]})


class SearchDetailView(SearchesMixin, APIView):
    """A search's progress; each look advances it one step."""

    @extend_schema(
        operation_id="recommend_searches_retrieve",
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk: int) -> Response:
        from measurements.recommend import finite_json

        search = actions.advance_search(self.search(request, pk))
        return Response(finite_json(search.to_dict()))


class SearchStopView(SearchesMixin, APIView):
    """Stop a running search; its queued jobs are cancelled."""

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        from measurements.recommend import finite_json

        search = actions.stop_search(self.search(request, pk))
        return Response(finite_json(search.to_dict()))


# Included under api/recommend/searches/ by webapp.urls.
urlpatterns = [
    path("", SearchListView.as_view(), name="api-searches"),
    path("<int:pk>/", SearchDetailView.as_view(), name="api-search"),
    path("<int:pk>/stop/", SearchStopView.as_view(), name="api-search-stop"),
]
