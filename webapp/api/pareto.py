"""GET /api/pareto: the non-dominated results for a filter and a metric pair.

The front follows ``measurements.pareto.pareto_front``'s rule over the
metrics of ``measurements.pareto.METRICS``, over one point per plan
(``measurements.front_query``: six numbers a result read in one round trip,
the front found by NumPy); ``front_of`` is the query side, shared by any
caller with a queryset of results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from measurements.column_arrays import with_ids
from measurements.front_query import front_ids
from measurements.models import Result
from measurements.pareto import METRICS, Metric, get_metric
from webapp.api import filters
from webapp.api import serializers as s
from webapp.api.views import RESULT_QUERYSET


def front_of(results: QuerySet, metrics: Sequence[Metric]) -> tuple[list[Result], int]:
    """The non-dominated results of ``results`` over two ``metrics``, by the first metric.

    One point per plan: of the results of one artifact on one device at one
    thread count, only the newest with both figures counts
    (``measurements.front_query``).

    Returns:
        The front, and how many plans had a result with both figures (the candidates).
    """
    x, y = metrics
    chosen, candidates = front_ids(results, x, y)
    front = list(with_ids(RESULT_QUERYSET, [pk for pk, _ in chosen]))
    front.sort(key=lambda r: (_value(r, x), r.pk))
    return front, candidates


def _value(result: Result, metric: Metric) -> float:
    target = result
    for part in metric.field.split("__"):
        target = getattr(target, part)
    return target


def metric_param(request: Request, param: str, default: str) -> Metric:
    """The metric named by ``?param=`` (a 400 naming the parameter if unknown)."""
    try:
        return get_metric(request.query_params.get(param) or default)
    except ValueError as exc:
        raise ValidationError({param: [str(exc)]}) from exc


class ParetoView(APIView):
    """Results no other result beats on both metrics (among those matching the filters)."""

    @extend_schema(
        operation_id="pareto",
        parameters=[
            OpenApiParameter("x", str, enum=list(METRICS), default="latency"),
            OpenApiParameter("y", str, enum=list(METRICS), default="accuracy"),
            *(p.openapi() for p in filters.RESULT_PARAMS),
        ],
        responses={
            200: s.ParetoSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Names the bad parameter."),
        },
    )
    def get(self, request: Request) -> Response:
        query = request.query_params
        filters.check_known(query, ["x", "y", "format", *(p.name for p in filters.RESULT_PARAMS)])
        x = metric_param(request, "x", "latency")
        y = metric_param(request, "y", "accuracy")
        if x == y:
            raise ValidationError({"y": [f"x and y must differ; both are {x.name!r}."]})
        results = filters.apply_filters(Result.objects.all(), query, filters.RESULT_PARAMS)
        front, candidates = front_of(results, [x, y])
        body = {"x": asdict(x), "y": asdict(y), "candidates": candidates, "front": front}
        return Response(s.ParetoSerializer(body, context={"request": request}).data)
